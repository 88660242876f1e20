//! Same scenario + seed gives byte-identical outputs; a VecEnv gives the same results as stepping
//! its Sims one by one, with one thread or two.

use socium::core::{Sim, SimConfig, VecBuffers, VecEnv, derive_seed};
use socium::scenario::{Scenario, play, run};
use std::path::Path;

fn scenario(name: &str, episodes: u64) -> Scenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let mut s = Scenario::load(&file).unwrap();
    s.episodes = episodes;
    s
}

fn outputs(s: &Scenario) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    run(s, dir.path(), |_| {}).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn same_seed_gives_byte_identical_outputs() {
    for (name, episodes) in [
        ("donor_cultural_evolution.toml", 3),
        ("image_scoring.toml", 2),
        ("ipd_tournament.toml", 7),
        ("leading_eight.toml", 1),
        ("werewolf.toml", 20),
        ("among_us.toml", 10),
        ("ipd_onnx.toml", 7),
    ] {
        let mut s = scenario(name, episodes);
        s.config.transcript = true;
        let first = outputs(&s);
        assert_eq!(first.len(), 3, "{name}: transcript, metrics and summary");
        assert!(first.iter().all(|(_, bytes)| !bytes.is_empty()));
        assert_eq!(first, outputs(&s), "{name}: a second run differs");
        s.config.seed += 1;
        let transcript = |files: &[(String, Vec<u8>)]| files[2].1.clone();
        if name != "ipd_tournament.toml" {
            // The tournament's scripted strategies are deterministic; the others draw pairings.
            assert_ne!(
                transcript(&first),
                transcript(&outputs(&s)),
                "{name}: seed ignored"
            );
        }
    }
}

/// A deterministic tournament keeping no transcript plays one round robin and repeats its
/// episodes' records (`Rules::period`); keeping one, it plays every episode. Both write the same
/// `metrics.csv` and `summary.json`, byte for byte.
#[test]
fn a_repeating_tournament_plays_one_round_robin_and_writes_what_playing_all_writes() {
    use socium::games::donor::repeated::{Matches, RepeatedConfig};
    for (agents, seed, matches) in [
        (8, 1984, Matches::ByRound),
        (7, 5, Matches::ByRound),
        (8, 3, Matches::AtOnce),
    ] {
        let mut s = scenario("ipd_tournament.toml", 23);
        s.config.agents.truncate(agents);
        s.config.seed = seed;
        let game = RepeatedConfig {
            matches,
            ..RepeatedConfig::default()
        };
        // The circle method: 7 rounds for 8 agents, and for 7 (one resting each round); at
        // once, an episode is the whole round robin.
        let rounds = game.round_robin_episodes(agents);
        s.game = socium::games::GameSpec::Repeated(game).into_game();
        let played = |s: &Scenario| {
            let mut sim = s.sim().unwrap();
            let mut played = Vec::new();
            play(
                s,
                &mut sim,
                |_| Ok(()),
                |_, r| {
                    played.push(r.played);
                    Ok(())
                },
            )
            .unwrap();
            played
        };
        s.config.transcript = true;
        let all = outputs(&s);
        assert_eq!(played(&s), (0..23).collect::<Vec<_>>());
        s.config.transcript = false;
        let repeated = outputs(&s);
        let expected: Vec<u64> = (0..23).map(|e| e % rounds).collect();
        assert_eq!(played(&s), expected, "{agents} agents");
        let names: Vec<&str> = repeated.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["metrics.csv", "summary.json"]);
        assert!(
            all[..2] == repeated[..],
            "{agents} agents: metrics.csv or summary.json differ"
        );
    }
}

/// Steps `sims` one by one with Gymnasium's NEXT_STEP autoreset, as a VecEnv promises to.
fn step_sequentially(sims: &mut [Sim], actions: &[f32], finished: &mut [bool]) -> VecBuffers {
    let mut out = VecBuffers::default();
    for (i, sim) in sims.iter_mut().enumerate() {
        let per = actions.len() / finished.len();
        if finished[i] {
            sim.reset(None);
        } else {
            sim.step(&actions[i * per..(i + 1) * per]).unwrap();
        }
        out.obs.extend(sim.env().observations());
        out.masks.extend(sim.env().action_masks());
        out.acting.extend(sim.env().acting());
        let zero = finished[i];
        out.rewards.extend(
            sim.env()
                .rewards()
                .iter()
                .map(|&r| if zero { 0.0 } else { r }),
        );
        out.reward_components.extend(
            sim.env()
                .reward_components()
                .iter()
                .map(|&r| if zero { 0.0 } else { r }),
        );
        out.terminated.extend(sim.env().terminated());
        out.truncated.extend(sim.env().truncated());
        finished[i] = sim.env().is_done();
    }
    out
}

/// Matches that end at random (continuation 0.8), so envs finish and reset at different steps,
/// with an external agent (always defecting here) and a random one.
const UNEVEN: &str = "[scenario]\nname = \"uneven\"\n[game.repeated]\ncontinuation = 0.8\n\
    [[agents]]\nstrategy = \"gtft\"\n[[agents]]\nstrategy = \"wsls\"\n\
    [[agents]]\ncontroller = \"external\"\n[[agents]]\ncontroller = \"random\"\n";

#[test]
fn vec_env_equals_sequential_stepping_with_one_or_two_threads() {
    let uneven = Scenario::parse(UNEVEN, Path::new("uneven.toml")).unwrap();
    for (name, steps) in [
        ("donor_cultural_evolution.toml", 60),
        ("image_scoring.toml", 25),
        ("werewolf.toml", 40),
        ("among_us.toml", 60),
        ("uneven", 40),
    ] {
        let s = if name == "uneven" {
            uneven.clone()
        } else {
            scenario(name, 1)
        };
        // One random agent so that the decide stream is exercised too.
        let mut config: SimConfig = s.config.clone();
        config.agents[0].controller = socium::core::Controller::Random;
        let envs = 6;
        let actions = vec![
            0.0;
            envs * config.agents.len()
                * s.game.action_space(s.config.agents.len()).flat_dim()
        ];
        let run_with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let seeds = VecEnv::seeds(77, envs);
                let mut env = VecEnv::new(&*s.game, &config, &seeds).unwrap();
                let mut buf = env.buffers();
                env.reset(Some(&seeds), buf.outputs()).unwrap();
                let mut trace = vec![buf.clone()];
                for _ in 0..steps {
                    env.step(&actions, buf.outputs()).unwrap();
                    trace.push(buf.clone());
                }
                trace
            })
        };
        let one = run_with(1);
        assert_eq!(one, run_with(2), "{name}: 1 vs 2 threads");

        let mut sims: Vec<Sim> = (0..envs)
            .map(|i| {
                Sim::new(
                    &*s.game,
                    SimConfig {
                        seed: derive_seed(77, i as u64),
                        ..config.clone()
                    },
                )
                .unwrap()
            })
            .collect();
        let mut finished = vec![false; envs];
        for (t, expected) in one.iter().enumerate().skip(1) {
            let got = step_sequentially(&mut sims, &actions, &mut finished);
            assert_eq!(&got, expected, "{name}: step {t}");
        }
        assert!(
            one.iter().any(|b| b.terminated.iter().any(|&t| t)),
            "{name}: an episode ended"
        );
        if name == "uneven" {
            // Some step ends one env's episode while another goes on.
            let agents = config.agents.len();
            let uneven_end = one.iter().any(|b| {
                let ended: Vec<bool> = b
                    .terminated
                    .chunks(agents)
                    .map(|t| t.iter().all(|&x| x))
                    .collect();
                ended.contains(&true) && ended.contains(&false)
            });
            assert!(uneven_end, "envs finished together");
        }
    }
}

#[test]
fn vec_env_refuses_bad_input_with_no_env_moved() {
    let s = Scenario::parse(UNEVEN, Path::new("uneven.toml")).unwrap();
    let mut env = VecEnv::new(&*s.game, &s.config, &[1, 2, 3]).unwrap();
    let mut buf = env.buffers();
    env.reset(Some(&[1, 2, 3]), buf.outputs()).unwrap();
    let clocks = |env: &VecEnv| {
        (0..env.num_envs())
            .map(|e| env.env(e).clock().step())
            .collect::<Vec<_>>()
    };
    let mut actions = vec![0.0; 3 * 4];
    env.step(&actions, buf.outputs()).unwrap();
    let before = (clocks(&env), buf.clone());

    // The external agent (agent 2) of an env where it acts plays 7 in a Discrete(2) space.
    let e = (0..3)
        .find(|&e| buf.acting[e * 4 + 2])
        .expect("agent 2 acts somewhere");
    actions[e * 4 + 2] = 7.0;
    let err = env.step(&actions, buf.outputs()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("env {e}: agent 2: entry 0 is 7, expected a value in [0, 1]")
    );
    assert_eq!((clocks(&env), buf.clone()), before);
    actions[e * 4 + 2] = 0.0;

    let err = env.step(&actions[1..], buf.outputs()).unwrap_err();
    assert_eq!(err.to_string(), "actions: expected 12 values, found 11");
    let mut short = buf.clone();
    short.rewards.pop();
    let err = env.step(&actions, short.outputs()).unwrap_err();
    assert_eq!(err.to_string(), "rewards: expected 12 values, found 11");
    assert!(env.reset(None, short.outputs()).is_err());
    let err = env.reset(Some(&[1]), buf.outputs()).unwrap_err();
    assert_eq!(err.to_string(), "seeds: expected 3 values, found 1");
    assert_eq!(clocks(&env), before.0);
    env.step(&actions, buf.outputs()).unwrap();
    assert_ne!(clocks(&env), before.0);
}
