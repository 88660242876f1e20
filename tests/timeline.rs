//! A timeline of interventions (`[[timeline]]`): a change applies from exactly its episode on
//! (every act of the changed group from then on follows the new strategy), the transcript shows
//! it, a run with it is byte for byte the run without it before it, the output is the same on 1
//! and 2 threads, and bad entries are refused at their line.

use serde_json::Value;
use socium::scenario::{Scenario, run};
use std::path::Path;

fn scenario(timeline: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"t\"\nseed = 8\nepisodes = 12\n[game.donor_cultural]\nrounds = 4\n\
         games = 1\n[[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n[[agents]]\n\
         strategy = \"allc\"\ncount = 4\nlabel = \"givers\"\n{timeline}"
    );
    Scenario::parse(&text, Path::new("t.toml")).unwrap()
}

/// `transcript.jsonl` and `metrics.csv` of a run, as lines.
fn outputs(s: &Scenario) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    run(s, dir.path(), |_| {}).unwrap();
    let read = |f: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        text.lines().map(str::to_owned).collect()
    };
    (read("transcript.jsonl"), read("metrics.csv"))
}

const CHANGE: &str = "[[timeline]]\nepisode = 6\nset = { \"agents[1].strategy\" = \"alld\" }\n";

#[test]
fn a_change_applies_from_its_episode_and_nothing_before_it_moves() {
    let (plain, plain_metrics) = outputs(&scenario(""));
    let (changed, changed_metrics) = outputs(&scenario(CHANGE));
    let episode = |l: &String| {
        serde_json::from_str::<Value>(l).unwrap()["episode"]
            .as_u64()
            .unwrap()
    };
    let before = |lines: &[String]| -> Vec<String> {
        lines.iter().filter(|l| episode(l) < 6).cloned().collect()
    };
    assert_eq!(
        before(&plain),
        before(&changed),
        "the transcripts differ before episode 6"
    );
    assert_eq!(
        plain_metrics[..7],
        changed_metrics[..7],
        "header and episodes 0-5"
    );
    assert_ne!(plain_metrics[7..], changed_metrics[7..]);
    // The change is the first line of episode 6; from then on every gift of agents 4-7 is 0,
    // before it every one was their whole resources.
    let first6 = changed.iter().position(|l| episode(l) == 6).unwrap();
    assert_eq!(
        changed[first6],
        r#"{"episode":6,"timeline":"agents[1].strategy=\"alld\""}"#
    );
    let mut gifts = [0, 0];
    for line in &changed[..] {
        let v: Value = serde_json::from_str(line).unwrap();
        let Some(speaker) = v["speaker"].as_u64() else {
            continue;
        };
        if speaker >= 4 && v["act"]["kind"] == "give" {
            let share = v["act"]["value"].as_f64().unwrap();
            let after = episode(line) >= 6;
            assert_eq!(share == 0.0, after, "{line}");
            gifts[usize::from(after)] += 1;
        }
    }
    assert!(gifts[0] > 0 && gifts[1] > 0, "{gifts:?}");
}

#[test]
fn a_run_with_a_timeline_is_the_same_on_one_and_two_threads() {
    let s = scenario(&format!(
        "{CHANGE}[[timeline]]\nepisode = 9\nset = {{ \"game.donor_cultural.multiplier\" = 3.0 }}\n"
    ));
    let output = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| outputs(&s))
    };
    assert!(output(1) == output(2));
}

#[test]
fn a_change_may_add_agents_and_each_group_is_averaged_over_its_agent_episodes() {
    // Two more givers from episode 6: the episodes before are the plain run's; after, agents
    // 8 and 9 act. Each group's means are over the agent-episodes it played: the givers' are
    // the two phases' means weighted 4 × 6 and 6 × 6, the phases played alone (the second seeded
    // as a change seeds it, from the run's seed and its episode).
    let more = "[[timeline]]\nepisode = 6\nset = { \"agents[1].count\" = 6 }\n";
    let (plain, plain_metrics) = outputs(&scenario(""));
    let (grown, grown_metrics) = outputs(&scenario(more));
    assert_eq!(plain_metrics[..7], grown_metrics[..7]);
    let speakers = |lines: &[String], from: u64| -> u64 {
        (lines.iter())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["episode"].as_u64() >= Some(from))
            .filter_map(|l| l["speaker"].as_u64())
            .max()
            .unwrap()
    };
    assert_eq!((speakers(&plain, 0), speakers(&grown, 6)), (7, 9));
    let summary = |s: &Scenario| {
        let dir = tempfile::tempdir().unwrap();
        run(s, dir.path(), |_| {}).unwrap()
    };
    let whole = summary(&scenario(more));
    let mut first = scenario("");
    first.episodes = 6;
    let mut second = scenario(&more.replace("episode = 6\n", "episode = 1\n"))
        .timeline
        .remove(0)
        .scenario;
    second.config.seed = socium::core::derive_seed(8, 6);
    second.episodes = 6;
    let (first, second) = (summary(&first), summary(&second));
    for (g, agents) in [(0, [4.0, 4.0]), (1, [4.0, 6.0])] {
        let [a, b] = agents.map(|k: f64| k * 6.0);
        let want = (first.groups[g].mean_return * a + second.groups[g].mean_return * b) / (a + b);
        let got = whole.groups[g].mean_return;
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "group {g}: {got} vs {want}"
        );
    }
    assert_eq!(
        whole.groups[1].agents, 6,
        "the group's size at the run's end"
    );
}

#[test]
fn bad_timeline_entries_are_refused_at_their_line() {
    let cases = [
        (
            "[[timeline]]\nepisode = 12\nset = { noise = 0.1 }\n",
            15,
            "episode 12 is past the run: it plays 12 episodes",
        ),
        (
            "[[timeline]]\nepisode = 0\nset = { \"agents[1].count\" = 2 }\n",
            15,
            "a change applies from an episode after 0",
        ),
        (
            "[[timeline]]\nepisode = 6\nset = { \"game.donor_cultural.multiplier\" = 3.0 }\n\
             [[timeline]]\nepisode = 4\nset = { \"game.donor_cultural.multiplier\" = 2.0 }\n",
            18,
            "after the previous change's (6)",
        ),
        (
            "[[timeline]]\nepisode = 6\nset = { \"game.donor_cultural.charity\" = 1 }\n",
            14,
            "the change at episode 6: `game.donor_cultural.charity`: unknown field `charity`",
        ),
        (
            "[attribution]\nmethod = \"uniform\"\n\
             [[timeline]]\nepisode = 6\nset = { \"agents[1].count\" = 6 }\n",
            16,
            "makes 10 agents of 8: an `[attribution]` keeps a record per agent",
        ),
        (
            "[[timeline]]\nepisode = 6\nset = { \"scenario.seed\" = 5 }\n",
            14,
            "do not change part-way",
        ),
    ];
    for (timeline, line, expected) in cases {
        let text = format!(
            "[scenario]\nname = \"t\"\nseed = 8\nepisodes = 12\n[game.donor_cultural]\nrounds = 4\n\
             games = 1\n[[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n[[agents]]\n\
             strategy = \"allc\"\ncount = 4\n{timeline}"
        );
        let err = Scenario::parse(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{timeline}: {err}");
        assert!(
            err.starts_with(&format!("t.toml:{line}:")),
            "{timeline}: {err}"
        );
    }
}

#[test]
fn a_timeline_says_episode_or_generation_as_the_scenario_plays() {
    let evolving = "[scenario]\nname = \"t\"\n[game.repeated]\nturns = 5\n\
                    [[agents]]\nstrategy = \"tft\"\ncount = 2\n[[agents]]\nstrategy = \"alld\"\n\
                    count = 2\n[evolution]\nrule = \"proportional\"\ngenerations = 3\n";
    let plain = "[scenario]\nname = \"t\"\nepisodes = 4\n[game.repeated]\nturns = 5\n\
                 [[agents]]\nstrategy = \"tft\"\ncount = 4\n";
    for (head, timeline, expected) in [
        (
            evolving,
            "episode = 2\nset = { \"game.repeated.noise\" = 0.1 }",
            "`episode`: a scenario with `[evolution]` changes from a `generation`",
        ),
        (
            plain,
            "generation = 2\nset = { \"game.repeated.noise\" = 0.1 }",
            "`generation`: a change by generation is `socium evolve`'s",
        ),
        (
            evolving,
            "generation = 3\nset = { \"game.repeated.noise\" = 0.1 }",
            "generation 3 is past the run: it plays 3 generations (0 to 2)",
        ),
        (
            evolving,
            "generation = 1\nset = { \"agents[1].label\" = \"defector\" }",
            "the change at generation 1 relabels the agents",
        ),
        (
            evolving,
            "generation = 1\nset = { \"evolution.mutation\" = 0.1 }",
            "`evolution.mutation`: the run's seed, length and evolution do not change part-way",
        ),
        (
            plain,
            "set = { \"game.repeated.noise\" = 0.1 }",
            "missing field `episode`",
        ),
    ] {
        let text = format!("{head}[[timeline]]\n{timeline}\n");
        let err = Scenario::parse(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{timeline}: {err}");
        assert!(err.starts_with("t.toml:"), "{err}");
    }
}
