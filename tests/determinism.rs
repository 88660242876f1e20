//! A repeating tournament writes what playing every episode writes; a VecEnv whose envs end at
//! different steps equals its Sims stepped one by one, with one thread or two, and refuses bad
//! input with no env moved; a run keeps per-act records only for its readers.
//! (`tests/conformance.rs` checks seeded runs and VecEnvs of every registered game.)

mod common;

use socium::core::{SimConfig, VecEnv};
use socium::scenario::{Scenario, play};
use std::path::Path;

fn scenario(name: &str, episodes: u64) -> Scenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let mut s = Scenario::load(&file).unwrap();
    s.episodes = episodes;
    s
}

fn outputs(s: &Scenario) -> std::collections::BTreeMap<String, Vec<u8>> {
    common::run_outputs(s).unwrap()
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
                |_| {},
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
        let names: Vec<&str> = repeated.keys().map(String::as_str).collect();
        assert_eq!(names, ["metrics.csv", "summary.json"]);
        for file in names {
            assert!(
                all[file] == repeated[file],
                "{agents} agents: {file} differs"
            );
        }
    }
}

/// A repeating tournament plays every episode where something needs them played: values and
/// ties carry over from one episode to the next, an attribution reads each episode's steps. Its
/// outputs are then those of a run that keeps a transcript (which plays every episode), where
/// repeating the first round robin's records had repeated its values and graph statistics and
/// attributed the first round robin's utterances alone.
#[test]
fn a_repeating_tournament_plays_every_episode_where_values_ties_or_attribution_need_it() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ipd_tournament.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("turns = 200", "turns = 20");
    let mut plain = Scenario::parse(&text, &file).unwrap();
    plain.config.transcript = false;
    assert_eq!(plain.repeats_every(), Some(7), "the round robin's 7 rounds");
    for (name, table) in [
        ("values", "[values]\nconfidence = 1.0\nrate = 0.5\n"),
        (
            "ties",
            "[graph.ring_lattice]\nk = 4\n[ties]\nclosure = 0.5\n",
        ),
        ("attribution", "[attribution]\nmethod = \"exact\"\n"),
    ] {
        let mut s = Scenario::parse(&format!("{text}\n{table}"), &file).unwrap();
        (s.episodes, s.config.transcript) = (14, false);
        // The graph's statistics after every episode, which ties move.
        s.graph_output = true;
        assert_eq!(s.repeats_every(), None, "{name}");
        let outputs_of = |transcript: bool| {
            let mut s = s.clone();
            s.config.transcript = transcript;
            let mut all = outputs(&s);
            all.remove("transcript.jsonl");
            all
        };
        let (played, kept) = (outputs_of(false), outputs_of(true));
        assert_eq!(
            played.keys().collect::<Vec<_>>(),
            kept.keys().collect::<Vec<_>>()
        );
        for (file, bytes) in &played {
            assert!(*bytes == kept[file], "{name}: {file} differs");
        }
    }
}

/// Matches that end at random (continuation 0.8), so envs finish and reset at different steps,
/// with an external agent (always defecting here) and a random one.
const UNEVEN: &str = "[scenario]\nname = \"uneven\"\n[game.repeated]\ncontinuation = 0.8\n\
    [[agents]]\nstrategy = \"gtft\"\n[[agents]]\nstrategy = \"wsls\"\n\
    [[agents]]\ncontroller = \"external\"\n[[agents]]\ncontroller = \"random\"\n";

/// Envs whose episodes end at different steps: a VecEnv gives the same buffers on one thread or
/// two, and as its Sims stepped one by one with NEXT_STEP autoreset. (`tests/conformance.rs`
/// checks the same of every registered game.)
#[test]
fn vec_env_equals_sequential_stepping_when_envs_end_apart() {
    let s = Scenario::parse(UNEVEN, Path::new("uneven.toml")).unwrap();
    // One random agent so that the decide stream is exercised too.
    let mut config: SimConfig = s.config.clone();
    config.agents[0].controller = socium::core::Controller::Random;
    let trace = common::vec_env_equals_sequential_stepping("uneven", &s, &config, 6, 40);
    // Some step ends one env's episode while another goes on.
    let agents = config.agents.len();
    let uneven_end = trace.iter().any(|b| {
        let ended: Vec<bool> = b
            .terminated
            .chunks(agents)
            .map(|t| t.iter().all(|&x| x))
            .collect();
        ended.contains(&true) && ended.contains(&false)
    });
    assert!(uneven_end, "envs finished together");
}

#[test]
fn vec_env_refuses_bad_input_with_no_env_moved() {
    let s = Scenario::parse(UNEVEN, Path::new("uneven.toml")).unwrap();
    let mut env = VecEnv::new(&*s.game, &s.config, &[1, 2, 3]).unwrap();
    env.reset(Some(&[1, 2, 3])).unwrap();
    let clocks = |env: &VecEnv| {
        (0..env.num_envs())
            .map(|e| env.env(e).clock().step())
            .collect::<Vec<_>>()
    };
    let mut actions = vec![0.0; 3 * 4];
    env.step(&actions).unwrap();
    let before = (clocks(&env), env.outputs().clone());

    // The external agent (agent 2) of an env where it acts plays 7 in a Discrete(2) space.
    let e = (0..3)
        .find(|&e| env.outputs().acting[e * 4 + 2])
        .expect("agent 2 acts somewhere");
    actions[e * 4 + 2] = 7.0;
    let err = env.step(&actions).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("env {e}: agent 2: entry 0 is 7, expected a value in [0, 1]")
    );
    assert_eq!((clocks(&env), env.outputs().clone()), before);
    actions[e * 4 + 2] = 0.0;

    let err = env.step(&actions[1..]).unwrap_err();
    assert_eq!(err.to_string(), "actions: expected 12 values, found 11");
    let err = env.reset(Some(&[1])).unwrap_err();
    assert_eq!(err.to_string(), "seeds: expected 3 values, found 1");
    assert_eq!((clocks(&env), env.outputs().clone()), before);
    env.step(&actions).unwrap();
    assert_ne!(clocks(&env), before.0);
}

/// `socium run` keeps per-act records only for its own readers (`Scenario::reads_records`): a run
/// without a transcript keeps none, writes the `metrics.csv` and `summary.json` of the same run
/// keeping a transcript, and its episodes' records count the same utterances. The scenario's own
/// Sims keep them.
#[test]
fn a_run_without_readers_keeps_no_records_and_writes_what_keeping_them_writes() {
    let unread = scenario("leading_eight.toml", 2);
    assert!(!unread.config.transcript && !unread.reads_records());
    assert!(unread.sim().unwrap().env().keeps_records());
    let mut read = scenario("leading_eight.toml", 2);
    read.config.transcript = true;
    assert!(read.reads_records());
    let (without, with) = (outputs(&unread), outputs(&read));
    assert!(!without.contains_key("transcript.jsonl") && with.contains_key("transcript.jsonl"));
    for file in ["metrics.csv", "summary.json"] {
        assert!(without[file] == with[file], "{file} differs");
    }
    // An episode's record counts its utterances, kept or not.
    let counts = |records: bool| {
        let config = SimConfig {
            records,
            ..unread.config.clone()
        };
        let mut sim = socium::core::Sim::new(&*unread.game, config).unwrap();
        assert_eq!(sim.env().keeps_records(), records);
        let mut counts = Vec::new();
        play(
            &unread,
            &mut sim,
            |_| Ok(()),
            |_| {},
            |_| Ok(()),
            |_, r| {
                counts.push(r.utterances);
                Ok(())
            },
        )
        .unwrap();
        counts
    };
    let kept = counts(true);
    assert!(kept.len() == 2 && kept.iter().all(|&c| c > 0), "{kept:?}");
    assert_eq!(counts(false), kept);
}
