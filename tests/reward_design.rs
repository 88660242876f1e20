//! Reward design from a scenario: social preferences (`[[agents]] social`: θ = 0 is the selfish
//! run byte for byte; utilitarian agents on a complete graph all earn the mean reward; a bad angle
//! is refused with its key) and combinations (`[scalar] combine`: every step's reward is the
//! combination of that step's components).

use socium::scenario::{Scenario, run};

mod common;
use std::path::Path;

fn donor(social: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"s\"\nseed = 3\nepisodes = 3\n[game.donor_cultural]\nrounds = 6\n\
         [[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n{social}\n\
         [[agents]]\nstrategy = \"alld\"\ncount = 2\n{social}\n"
    );
    Scenario::parse(&text, Path::new("s.toml")).unwrap()
}

fn outputs(s: &Scenario) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    run(s, dir.path(), |_| {}).unwrap();
    ["transcript.jsonl", "metrics.csv", "summary.json"]
        .iter()
        .map(|f| std::fs::read(dir.path().join(f)).unwrap())
        .collect()
}

#[test]
fn an_svo_of_zero_degrees_is_the_selfish_run() {
    assert!(outputs(&donor("")) == outputs(&donor("social = { svo = { angle = 0 } }")));
}

#[test]
fn utilitarian_agents_share_one_return_and_raw_rewards_stay_their_own() {
    let selfish = donor("");
    let shared = donor("social = \"utilitarian\"");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        run(&selfish, &dir.path().join("a"), |_| {}).unwrap(),
        run(&shared, &dir.path().join("b"), |_| {}).unwrap(),
    );
    // Every agent's return is the mean of all: the two groups' mean returns are equal ...
    let (r0, r1) = (b.groups[0].mean_return, b.groups[1].mean_return);
    assert!((r0 - r1).abs() < 1e-9, "{r0} vs {r1}");
    // ... and equal to the selfish run's mean over all agents (4 reciprocators, 2 defectors).
    let mean = (4.0 * a.groups[0].mean_return + 2.0 * a.groups[1].mean_return) / 6.0;
    assert!((r0 - mean).abs() < 1e-6, "{r0} vs {mean}");
    // The raw rewards (the truth) are each agent's own.
    assert_eq!(a.groups[0].mean_rewards, b.groups[0].mean_rewards);
    assert_ne!(a.groups[0].mean_return, b.groups[0].mean_return);
}

#[test]
fn an_angle_out_of_range_is_refused_with_its_key() {
    let text = "[scenario]\nname = \"s\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\n\
                count = 2\nsocial = { svo = { angle = 200 } }\n";
    let err = Scenario::parse(text, Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("agents[0].social.svo.angle")
            && err.contains("expected an angle in degrees in [−180, 180], found 200"),
        "{err}"
    );
}

/// `[scalar] combine = "min"` and `"log_sum"`: at every step each agent's reward is the least
/// weighted component, or the weighted sum of the components' logs (floored at 10^-12), of that
/// step.
#[test]
fn every_steps_reward_is_its_components_combined() {
    for combine in ["min", "log_sum"] {
        let text = format!(
            "[scenario]\nname = \"c\"\nseed = 2\n[game.donor_cultural]\nrounds = 4\n\
             [[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n\
             [rewards.payoff]\nweight = 1\ntransform = {{ par = {{ reference = {{ constant = 0 }} }} }}\n\
             [rewards.reputation]\nweight = 2\ntransform = {{ par = {{ reference = {{ constant = 0 }} }} }}\n\
             [scalar]\ncombine = \"{combine}\"\n"
        );
        let mut sim = Scenario::parse(&text, Path::new("c.toml"))
            .unwrap()
            .sim()
            .unwrap();
        let weights = [1.0, 2.0];
        let mut steps = 0;
        while !sim.env().is_done() {
            sim.step(&[0.0; 4]).unwrap();
            let (c, r) = (sim.env().reward_components(), sim.env().rewards());
            for a in 0..4 {
                let weighted = weights
                    .iter()
                    .zip(&c[a * 2..a * 2 + 2])
                    .map(|(w, &c)| (w, c as f64));
                let expected = match combine {
                    "min" => weighted.map(|(w, c)| w * c).fold(f64::INFINITY, f64::min),
                    _ => weighted.map(|(w, c)| w * c.max(1e-12).ln()).sum(),
                };
                let got = r[a] as f64;
                assert!(
                    (got - expected).abs() < 1e-5,
                    "{combine}: agent {a}: {got} vs {expected}"
                );
            }
            steps += 1;
        }
        assert!(steps > 0);
    }
}

#[test]
fn an_unknown_combination_is_refused_with_its_key() {
    let text = "[scenario]\nname = \"s\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\n\
                count = 2\n[scalar]\ncombine = \"product\"\n";
    let err = Scenario::parse(text, Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("scalar.combine") && err.contains("unknown variant `product`"),
        "{err}"
    );
}

/// Runs a donor game with `[scalar.heron]` (payoff first, margin 2; then reputation, 0.05),
/// comparing `between`; returns `preferences.jsonl`'s lines and every agent's raw episode totals
/// by (episode, agent, dimension), recomputed from the transcript.
fn heron_run(between: &str) -> (Vec<serde_json::Value>, impl Fn(u64, u32, &str) -> f64) {
    let text = format!(
        "[scenario]\nname = \"h\"\nseed = 5\nepisodes = 3\n[game.donor_cultural]\nrounds = 6\n\
         [[agents]]\nstrategy = \"reciprocal\"\ncount = 2\n[[agents]]\nstrategy = \"alld\"\ncount = 2\n\
         [scalar.heron]\norder = [\"payoff\", \"reputation\"]\nmargins = [2.0, 0.05]\n{between}\n"
    );
    let s = Scenario::parse(&text, Path::new("h.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    run(&s, dir.path(), |_| {}).unwrap();
    let mut totals = std::collections::HashMap::<(u64, u32, String), f64>::new();
    let transcript = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
    for line in transcript.lines() {
        let line: socium::core::TranscriptLine = serde_json::from_str(line).unwrap();
        for r in line.rewards() {
            *totals
                .entry((line.episode(), r.agent.0, r.dimension.to_string()))
                .or_default() += r.value;
        }
    }
    let labels = std::fs::read_to_string(dir.path().join("preferences.jsonl")).unwrap();
    // The keys in the documented order: what is compared, then the verdict.
    for l in labels.lines() {
        let keys = ["\"a\":", "\"b\":", "\"preferred\":", "\"factor\":"];
        let at: Vec<usize> = keys.iter().map(|k| l.find(k).unwrap()).collect();
        let first = l.starts_with("{\"episode\":") || l.starts_with("{\"agent\":");
        assert!(first && at.is_sorted(), "{l}");
    }
    let lines = (labels.lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total =
        move |e: u64, a: u32, d: &str| totals.get(&(e, a, d.to_owned())).copied().unwrap_or(0.0);
    (lines, total)
}

/// The hierarchy's decision between outcomes x and y, from their differences `x − y` in payoff
/// and reputation: whether x is preferred, and the deciding factor.
fn heron_decides(dp: f64, dr: f64) -> Option<(bool, &'static str)> {
    if dp.abs() > 2.0 {
        Some((dp > 0.0, "payoff"))
    } else if dr.abs() > 0.05 {
        Some((dr > 0.0, "reputation"))
    } else {
        None
    }
}

/// `[scalar.heron]`: `socium run` writes HERON's preference between every pair of agents of
/// every episode to `preferences.jsonl`, as the hierarchy decides it from the agents' raw
/// episode totals (recomputed here from the transcript).
#[test]
fn heron_labels_every_pair_of_agents_by_the_hierarchy() {
    let (lines, total) = heron_run("");
    assert_eq!(lines.len(), 3 * 6, "3 episodes × 6 pairs of 4 agents");
    let mut decided = 0;
    for l in &lines {
        let (e, a, b) = (
            l["episode"].as_u64().unwrap(),
            l["a"].as_u64().unwrap() as u32,
            l["b"].as_u64().unwrap() as u32,
        );
        let dp = total(e, a, "payoff") - total(e, b, "payoff");
        let dr = total(e, a, "reputation") - total(e, b, "reputation");
        let expected = heron_decides(dp, dr);
        let preferred = expected.map(|(first, _)| if first { a } else { b });
        assert_eq!(l["preferred"].as_u64().map(|p| p as u32), preferred, "{l}");
        assert_eq!(l["factor"].as_str(), expected.map(|(_, f)| f), "{l}");
        decided += usize::from(preferred.is_some());
    }
    assert!(decided > 0);
}

/// `between = "episodes"`: each agent's episode against its previous one, by the same hierarchy.
#[test]
fn heron_labels_each_agents_consecutive_episodes() {
    let (lines, total) = heron_run("between = \"episodes\"");
    assert_eq!(
        lines.len(),
        2 * 4,
        "episodes 1 and 2 against their previous, 4 agents"
    );
    let mut decided = 0;
    for l in &lines {
        let (agent, a, b) = (
            l["agent"].as_u64().unwrap() as u32,
            l["a"].as_u64().unwrap(),
            l["b"].as_u64().unwrap(),
        );
        assert_eq!(a + 1, b);
        let dp = total(a, agent, "payoff") - total(b, agent, "payoff");
        let dr = total(a, agent, "reputation") - total(b, agent, "reputation");
        let expected = heron_decides(dp, dr);
        let preferred = expected.map(|(first, _)| if first { a } else { b });
        assert_eq!(l["preferred"].as_u64(), preferred, "{l}");
        assert_eq!(l["factor"].as_str(), expected.map(|(_, f)| f), "{l}");
        decided += usize::from(preferred.is_some());
    }
    assert!(decided > 0);
}

#[test]
fn a_heron_hierarchy_names_real_dimensions_with_a_margin_each() {
    let head = "[scenario]\nname = \"s\"\n[game.donor_cultural]\n[[agents]]\nstrategy = \"allc\"\ncount = 2\n[scalar.heron]\n";
    for (body, needle) in [
        (
            "order = [\"fame\"]\nmargins = [1]\n",
            "`order`: game `donor_cultural` has no reward dimension `fame`; it has payoff, reputation",
        ),
        (
            "order = [\"payoff\"]\nmargins = [1, 2]\n",
            "`margins`: expected one per dimension of `order` (1), found 2",
        ),
        (
            "order = [\"payoff\", \"payoff\"]\nmargins = [1, 2]\n",
            "`order` names `payoff` twice",
        ),
        (
            "order = [\"payoff\"]\nmargins = [-1]\n",
            "expected a finite number ≥ 0, found -1",
        ),
        (
            "order = [\"payoff\"]\nmargins = [1]\nbetween = \"groups\"\n",
            "unknown variant `groups`, expected `agents` or `episodes`",
        ),
    ] {
        let err = Scenario::parse(&format!("{head}{body}"), Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(needle) && err.contains("scalar.heron"),
            "{err}"
        );
    }
}

/// Potential-based shaping (Ng, Harada & Russell 1999) with γ = 1: the scenario `text` (every
/// agent scripted) is played without shaping and with `[shaping.<potential>] gamma = 1`, three
/// episodes in lockstep; every agent's episode return moves by exactly −Φ(s_0) where its game
/// ended (the end's potential is 0), Φ(s_T) − Φ(s_0) where the step limit cut it short (its
/// potential after the last step less its potential after the reset), and `socium run` ranks the
/// agent groups by mean return as before. `check` is called at each episode's end with the shaped
/// env, each agent and its Φ(s_0) and Φ(s_T) (as the game last wrote it). Returns the largest
/// |Φ(s_T) − Φ(s_0)| seen.
fn shaping_moves_each_return_by_the_potentials_change(
    text: &str,
    potential: &str,
    check: impl Fn(&socium::core::EnvView, usize, f64, f64),
) -> f64 {
    use socium::core::{AgentId, PotentialId, Potentials};
    let plain = Scenario::parse(text, Path::new("p.toml")).unwrap();
    let shaped = Scenario::parse(
        &format!("{text}[shaping.{potential}]\ngamma = 1\n"),
        Path::new("p.toml"),
    )
    .unwrap();
    let id = plain
        .game
        .potentials()
        .iter()
        .position(|p| p.name == potential)
        .map(|p| PotentialId(p as u16))
        .unwrap();
    let (mut a, mut b) = (plain.sim().unwrap(), shaped.sim().unwrap());
    let n = a.agent_count();
    let actions = vec![0.0; n * a.spaces().action.flat_dim()];
    let values = |sim: &socium::core::Sim| -> Vec<f64> {
        let potentials = sim.env().get::<Potentials>().unwrap();
        (0..n)
            .map(|x| potentials.get(AgentId(x as u32), id))
            .collect()
    };
    let mut largest = 0.0f64;
    for episode in 0..3 {
        if episode > 0 {
            a.reset(None);
            b.reset(None);
        }
        let start = values(&b);
        while !a.env().is_done() {
            a.step(&actions).unwrap();
            b.step(&actions).unwrap();
        }
        assert!(b.env().is_done(), "the shaped run ends with the plain one");
        let end = values(&b);
        for agent in 0..n {
            let reached = if b.env().terminated()[agent] {
                0.0
            } else {
                end[agent]
            };
            let change = reached - start[agent];
            let moved = b.env().episode_returns()[agent] - a.env().episode_returns()[agent];
            assert!(
                (moved - change).abs() < 1e-6,
                "{potential}, episode {episode}, agent {agent}: {moved} vs {change}"
            );
            check(&b.env(), agent, start[agent], end[agent]);
            largest = largest.max((end[agent] - start[agent]).abs());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let order = |s: &Scenario, out: &str| {
        let summary = run(s, &dir.path().join(out), |_| {}).unwrap();
        let mut groups: Vec<(String, f64)> = summary
            .groups
            .iter()
            .map(|g| (g.label.clone(), g.mean_return))
            .collect();
        groups.sort_by(|x, y| x.1.total_cmp(&y.1));
        groups.into_iter().map(|g| g.0).collect::<Vec<_>>()
    };
    assert_eq!(
        order(&plain, "a"),
        order(&shaped, "b"),
        "{potential}: the ranking of the strategies"
    );
    largest
}

/// The donor game's `resources`: Φ(s_0) is the initial 10.
#[test]
fn shaping_with_gamma_one_moves_each_return_by_the_potentials_change() {
    let text = "[scenario]\nname = \"p\"\nseed = 8\nepisodes = 2\n[game.donor_cultural]\nrounds = 8\ngames = 1\n\
                [[agents]]\nstrategy = \"reciprocal\"\ncount = 2\n[[agents]]\nstrategy = \"alld\"\ncount = 2\n\
                [[agents]]\nstrategy = \"allc\"\ncount = 2\n";
    let moved =
        shaping_moves_each_return_by_the_potentials_change(text, "resources", |_, _, start, _| {
            assert_eq!(start, 10.0)
        });
    assert!(moved > 0.0);
}

/// The indirect-reciprocity games' `reputation`, under image scoring with incomplete
/// information and under norms with public and private assessment (errors, own norms): Φ(s_0)
/// is the initial view (image 0, Good 1), and Φ(s_T) − Φ(s_0) is the agent's episode total on
/// the `reputation` dimension (the potential is the reputation whose changes it gives).
#[test]
fn reputation_shaping_moves_each_return_by_the_reputations_change() {
    let games = [
        (
            "[game.image_scoring]\nrounds = 10\nobservation = 0.5\nexecution_error = 0.1\n\
             [[agents]]\nstrategy = \"discriminator\"\ncount = 8\nparams = { k = 0 }\n\
             [[agents]]\nstrategy = \"allc\"\ncount = 4\n[[agents]]\nstrategy = \"alld\"\ncount = 4\n",
            0.0,
        ),
        (
            "[game.norms]\nrounds = 20\nnorm = \"stern_judging\"\nassessment_error = 0.05\n\
             [[agents]]\nstrategy = \"discriminator\"\ncount = 8\n\
             [[agents]]\nstrategy = \"apologetic_discriminator\"\ncount = 4\n\
             [[agents]]\nstrategy = \"alld\"\ncount = 4\n",
            1.0,
        ),
        (
            "[game.norms]\nrounds = 20\nassessment = \"private\"\nobservation = 0.6\n\
             assessment_error = 0.05\nexecution_error = 0.05\n\
             [[agents]]\nstrategy = \"own_norm\"\ncount = 6\nparams = { norm = 185 }\n\
             [[agents]]\nstrategy = \"discriminator\"\ncount = 6\n\
             [[agents]]\nstrategy = \"alld\"\ncount = 4\n",
            1.0,
        ),
    ];
    for (game, initial) in games {
        let text = format!("[scenario]\nname = \"r\"\nseed = 6\nepisodes = 4\n{game}");
        let reputation = 1; // the dimension after payoff
        let moved = shaping_moves_each_return_by_the_potentials_change(
            &text,
            "reputation",
            |env, agent, start, end| {
                assert_eq!(start, initial, "{game}");
                let dims = env.reward_dimensions().len();
                let total = env.episode_raw_rewards()[agent * dims + reputation];
                assert!(
                    (end - start - total).abs() < 1e-9,
                    "{game}: agent {agent}: {} vs {total}",
                    end - start
                );
            },
        );
        assert!(moved > 0.0, "{game}: no reputation moved");
    }
}

/// The social deduction games' `belief`: a crewmate's or citizen's belief in the true hidden
/// team (0 for its members): Φ(s_0) is the prior `p_0` (0 for the hidden team).
#[test]
fn belief_shaping_moves_each_return_by_the_beliefs_change() {
    let among_us = "[scenario]\nname = \"b\"\nseed = 3\nepisodes = 40\nmax_steps = 200\n\
                    [game.among_us]\n[[agents]]\nstrategy = \"bayesian\"\ncount = 3\n\
                    [[agents]]\nstrategy = \"random\"\ncount = 3\n";
    let werewolf = "[scenario]\nname = \"b\"\nseed = 3\nepisodes = 200\n\
                    [game.mafia]\nmafia = 2\nseer = true\ndoctor = true\ndiscussion = 1\n\
                    [[agents]]\nstrategy = \"informed\"\ncount = 5\n\
                    [[agents]]\nstrategy = \"random\"\ncount = 4\n";
    // Among Us: 1 imposter among 6, p_0 = 1/5; Mafia: 2 among 9, p_0 = 2/8.
    for (text, p_0) in [(among_us, 0.2), (werewolf, 0.25)] {
        let moved =
            shaping_moves_each_return_by_the_potentials_change(text, "belief", |_, _, start, _| {
                assert!(
                    start == 0.0 || (start - p_0).abs() < 1e-12,
                    "{text}: {start}"
                );
            });
        assert!(moved > 0.0, "{text}: no belief moved");
    }
}

#[test]
fn shaping_names_a_potential_of_the_game() {
    let text = "[scenario]\nname = \"s\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\ncount = 2\n\
                [shaping.resources]\ngamma = 0.9\n";
    let err = Scenario::parse(text, Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shaping.resources")
            && err.contains("game `repeated` has no potential `resources`; it has none"),
        "{err}"
    );
    let text = "[scenario]\nname = \"s\"\n[game.donor_cultural]\n[[agents]]\nstrategy = \"allc\"\ncount = 2\n\
                [shaping.reputation]\n";
    let err = Scenario::parse(text, Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("it has resources"), "{err}");
}

/// Information gain (IGPO) in the scenario `file`: each truth-seeker's `information` entries, each
/// on the private `believe` utterance that states its new belief in the truth, sum over an episode
/// to `ln p_T − ln p_0`, with `p_0` its belief at the deal and `p_T` the last belief it stated;
/// players whose observation entry `hidden` is 1 (the hidden team) state nothing. Returns the
/// number of players checked.
fn information_sums_to_the_change_in_log_belief(file: &str, p_0: f64, hidden: usize) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(&root.join("scenarios").join(file)).unwrap();
    let information = s
        .game
        .reward_dimensions()
        .iter()
        .position(|d| d.name == "information")
        .unwrap();
    let mut sim = s.sim().unwrap();
    let actions = vec![0.0; sim.agent_count() * sim.spaces().action.flat_dim()];
    let obs_dim = sim.spaces().observation.flat_dim();
    let mut checked = 0;
    for episode in 0..6 {
        if episode > 0 {
            sim.reset(None);
        }
        let team: Vec<bool> = (0..sim.agent_count())
            .map(|a| sim.env().observations()[a * obs_dim + hidden] == 1.0)
            .collect();
        let mut gains = std::collections::HashMap::<u32, f64>::new();
        let mut last = std::collections::HashMap::<u32, f64>::new();
        while !sim.env().is_done() {
            sim.step(&actions).unwrap();
            let env = sim.env();
            for u in env.utterances().iter().filter(|u| u.act.kind == "believe") {
                assert!(
                    !team[u.speaker.index()],
                    "{file}: {:?} is on the hidden team",
                    u.speaker
                );
                last.insert(u.speaker.0, u.act.value);
                let entries: Vec<_> = env
                    .reward_entries()
                    .iter()
                    .filter(|e| e.utterance == u.id)
                    .collect();
                assert_eq!(
                    entries.len(),
                    1,
                    "one information entry on each belief statement"
                );
                assert_eq!(
                    (entries[0].agent, entries[0].dimension.0 as usize),
                    (u.speaker, information)
                );
                *gains.entry(u.speaker.0).or_default() += entries[0].value;
            }
        }
        for (agent, p) in &last {
            let expected = p.max(1e-6).ln() - p_0.ln();
            assert!(
                (gains[agent] - expected).abs() < 1e-9,
                "{file}, episode {episode}, agent {agent}: {} vs {expected}",
                gains[agent]
            );
            checked += 1;
        }
    }
    checked
}

/// In the Among Us-style game `p_0 = 1/4` (1 imposter among the 4 others).
#[test]
fn information_gain_sums_to_the_change_in_log_belief_in_the_truth() {
    let imposter = socium::games::deduction::among_us::obs::IMPOSTER;
    let checked = information_sums_to_the_change_in_log_belief("among_us.toml", 0.25, imposter);
    assert!(checked >= 6, "{checked} crewmates checked");
}

/// In Mafia a citizen's belief moves as roles become known to it (revealed at death, or found as
/// the seer): `p_0 = m / (n − 1)`, 1/4 with 1 mafia among 5 players, 2/7 with 2 among 8.
#[test]
fn mafia_information_gain_sums_to_the_change_in_log_belief_in_the_truth() {
    let mafia = socium::games::deduction::mafia::obs::ROLE + 1;
    for (file, p_0) in [("mafia.toml", 0.25), ("werewolf.toml", 2.0 / 7.0)] {
        let checked = information_sums_to_the_change_in_log_belief(file, p_0, mafia);
        assert!(checked >= 6, "{file}: {checked} citizens checked");
    }
}

/// Every reward-design setting at once — transforms with windows, references and ranks, a
/// `log_sum` combination, social preferences of two kinds and potential-based shaping — gives the
/// same VecEnv buffers on 1 and 2 threads as its Sims stepped one by one, and the settings move the
/// rewards (the buffers differ from the plain scenario's).
#[test]
fn reward_design_is_thread_independent_and_matches_sequential_sims() {
    let text = |design: &str| {
        format!(
            "[scenario]\nname = \"d\"\n[game.donor_cultural]\nrounds = 6\n\
             [[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n{}\
             [[agents]]\nstrategy = \"alld\"\ncount = 2\n{}{design}",
            if design.is_empty() {
                ""
            } else {
                "social = { svo = { angle = 45 } }\n"
            },
            if design.is_empty() {
                ""
            } else {
                "social = \"max_min\"\n"
            },
        )
    };
    let design = "[rewards.payoff]\ntransform = { par = { reference = { percentile = { p = 0.5, window = 4 } } } }\n\
                  [rewards.reputation]\nweight = 1\ntransform = \"rank\"\n\
                  [scalar]\ncombine = \"log_sum\"\n[shaping.resources]\ngamma = 0.9\nweight = 0.1\n";
    let designed = Scenario::parse(&text(design), Path::new("d.toml")).unwrap();
    let plain = Scenario::parse(&text(""), Path::new("d.toml")).unwrap();
    let a =
        common::vec_env_equals_sequential_stepping("designed", &designed, &designed.config, 8, 30);
    let b = common::vec_env_equals_sequential_stepping("plain", &plain, &plain.config, 8, 30);
    assert!(
        a.iter().zip(&b).any(|(x, y)| x.rewards != y.rewards),
        "the design changed no reward"
    );
}

/// `summary.json` reports the transformed episode totals beside the raw ones: with a clip on
/// payoff, each group's `mean_components` is the mean over its agent-episodes of the clipped
/// per-step raw values, recomputed here from the transcript; reputation (identity) is its raw.
#[test]
fn the_summary_has_each_dimensions_transformed_totals_beside_the_raw_ones() {
    let text = "[scenario]\nname = \"s\"\nseed = 3\nepisodes = 3\n[game.donor_cultural]\n\
                rounds = 6\n[[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n\
                [[agents]]\nstrategy = \"alld\"\ncount = 2\n\
                [rewards.payoff]\ntransform = { clip = { low = -0.5, high = 0.75 } }\n";
    let s = Scenario::parse(text, Path::new("s.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = run(&s, dir.path(), |_| {}).unwrap();
    let transcript = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
    // Per (episode, step, agent): the raw payoff of the step.
    let mut steps = std::collections::BTreeMap::<(u64, u32, u32), f64>::new();
    for line in transcript.lines() {
        let line: socium::core::TranscriptLine = serde_json::from_str(line).unwrap();
        for r in line.rewards().iter().filter(|r| r.dimension == "payoff") {
            *steps
                .entry((line.episode(), line.step(), r.agent.0))
                .or_default() += r.value;
        }
    }
    let mut clipped = [0.0f64; 6];
    for ((_, _, a), raw) in steps {
        clipped[a as usize] += raw.clamp(-0.5, 0.75);
    }
    let groups = [(0..4, &summary.groups[0]), (4..6, &summary.groups[1])];
    for (ids, group) in groups {
        let expected = ids.clone().map(|a| clipped[a]).sum::<f64>() / (ids.len() as f64 * 3.0);
        let found = group.mean_components["payoff"];
        assert!(
            (found - expected).abs() < 1e-5,
            "{}: {found} vs {expected}",
            group.label
        );
        assert_ne!(
            found, group.mean_rewards["payoff"],
            "the clip changed nothing"
        );
        assert_eq!(
            group.mean_components["reputation"],
            group.mean_rewards["reputation"]
        );
    }
}

/// Shaping by each game's new potentials (`reputation`, `belief`) gives the same VecEnv buffers on
/// 1 and 2 threads as its Sims stepped one by one, and moves the rewards.
#[test]
fn shaping_by_reputation_and_belief_is_thread_independent() {
    let games = [
        (
            "reputation",
            "[game.norms]\nrounds = 30\nassessment = \"private\"\nobservation = 0.5\n\
             assessment_error = 0.1\n[[agents]]\nstrategy = \"discriminator\"\ncount = 6\n\
             [[agents]]\nstrategy = \"alld\"\ncount = 2\n",
        ),
        (
            "reputation",
            "[game.image_scoring]\nrounds = 30\nobservation = 0.5\n\
             [[agents]]\nstrategy = \"discriminator\"\ncount = 6\n\
             [[agents]]\nstrategy = \"alld\"\ncount = 2\n",
        ),
        (
            "belief",
            "[game.among_us]\n[[agents]]\nstrategy = \"bayesian\"\ncount = 5\n",
        ),
        (
            "belief",
            "[game.mafia]\nmafia = 2\nseer = true\ndiscussion = 1\n\
             [[agents]]\nstrategy = \"informed\"\ncount = 7\n",
        ),
    ];
    for (potential, game) in games {
        let text = |shaping: &str| format!("[scenario]\nname = \"t\"\n{game}{shaping}");
        let shaped = Scenario::parse(
            &text(&format!("[shaping.{potential}]\ngamma = 0.9\nweight = 2\n")),
            Path::new("t.toml"),
        )
        .unwrap();
        let plain = Scenario::parse(&text(""), Path::new("t.toml")).unwrap();
        let a = common::vec_env_equals_sequential_stepping(game, &shaped, &shaped.config, 8, 30);
        let b = common::vec_env_equals_sequential_stepping(game, &plain, &plain.config, 8, 30);
        assert!(
            a.iter().zip(&b).any(|(x, y)| x.rewards != y.rewards),
            "{game}: shaping changed no reward"
        );
    }
}

/// A `par` reference group follows the agents' labels through a part-way change
/// (`Sim::retune`), which may move agents into the group: the reference is the mean raw value of
/// the group's members after the change (it had stayed the first step's members for the rest of
/// the run).
#[test]
fn a_reference_group_follows_a_relabelling_retune() {
    let text = "[scenario]\nname = \"g\"\nseed = 4\n[game.donor_cultural]\nrounds = 6\ngames = 1\n\
                initial_resources = 0.5\n[[agents]]\nlabel = \"ref\"\nstrategy = \"reciprocal\"\ncount = 4\n\
                [[agents]]\nlabel = \"other\"\nstrategy = \"fixed\"\nparams = { share = 0.9 }\n\
                count = 4\n[rewards.payoff]\n\
                transform = { par = { reference = { group = \"ref\" } } }\n";
    let s = Scenario::parse(text, Path::new("g.toml")).unwrap();
    let mut sim = s.sim().unwrap();
    sim.reset(Some(s.config.seed));
    let dims = sim.env().reward_dimensions().len();
    // Every agent's component: σ(x − the mean of `members`' raw payoffs), the payoffs small
    // enough (resources of 0.5) that σ does not saturate.
    let check = |sim: &socium::core::Sim, members: std::ops::Range<usize>| {
        let env = sim.env();
        let raw: Vec<f64> = env.raw_rewards().iter().step_by(dims).copied().collect();
        let reference = raw[members.clone()].iter().sum::<f64>() / members.len() as f64;
        for (a, &x) in raw.iter().enumerate() {
            let expected = 1.0 / (1.0 + (reference - x).exp());
            let got = env.reward_components()[a * dims] as f64;
            assert!(
                (got - expected).abs() < 1e-6,
                "agent {a}: {got} vs {expected}"
            );
        }
    };
    sim.step(&[0.0; 8]).unwrap();
    check(&sim, 0..4);
    let mut agents = s.config.agents.clone();
    agents[4..].iter_mut().for_each(|a| a.label = "ref".into());
    sim.retune(&*s.game, &agents).unwrap();
    for _ in 0..2 {
        sim.step(&[0.0; 8]).unwrap();
        check(&sim, 0..8);
    }
}
