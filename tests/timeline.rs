//! A timeline of interventions (`[[timeline]]`): a change applies from exactly its episode, or
//! its step part-way through one, on (every act of the changed group from then on follows the new
//! strategy, every payoff the new settings), the transcript shows it, a run with it is byte for
//! byte the run without it before it, the output is the same on 1 and 2 threads, and bad entries
//! are refused at their line.

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
        (
            "[[timeline]]\nepisode = 6\nset = { \"output.graph\" = true }\n",
            14,
            "`output.graph`: the run's outputs (and the judge, attribution and preferences",
        ),
        (
            "[[timeline]]\nepisode = 6\nset = { max_steps = 3 }\n",
            14,
            "`max_steps`: the run's seed, length and evolution do not change part-way",
        ),
        (
            "[[timeline]]\nepisode = 6\n\
             set = { \"scalar.heron\" = { order = [\"payoff\"], margins = [0.0] } }\n",
            14,
            "`scalar.heron`: the run's outputs",
        ),
        (
            "[[timeline]]\nepisode = 6\nset = { \"values.confidence\" = 0.5 }\n",
            14,
            "`values.confidence`: a change may retune `[values]`, not add it",
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
            "`timeline[0].episode`: a scenario with `[evolution]` changes from a `generation`",
        ),
        (
            plain,
            "generation = 2\nset = { \"game.repeated.noise\" = 0.1 }",
            "`timeline[0].generation`: a change by generation is `socium evolve`'s",
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

/// `(episode, step)` of a transcript line.
fn time(line: &str) -> (u64, u64) {
    let v: Value = serde_json::from_str(line).unwrap();
    (
        v["episode"].as_u64().unwrap(),
        v["step"].as_u64().unwrap_or(0),
    )
}

#[test]
fn a_change_at_a_step_applies_from_that_step_and_nothing_before_it_moves() {
    // Part-way through episode 6 (after 2 of its 4 steps) the givers turn to always defecting
    // and the multiplier goes from 2 to 3; the episode goes on in the same Sim.
    let at_step = "[[timeline]]\nepisode = 6\nstep = 2\nset = { \"agents[1].strategy\" = \"alld\", \
                   \"game.donor_cultural.multiplier\" = 3.0 }\n";
    let (plain, _) = outputs(&scenario(""));
    let (changed, _) = outputs(&scenario(at_step));
    let cut = plain.iter().position(|l| time(l) >= (6, 2)).unwrap();
    assert_eq!(
        plain[..cut],
        changed[..cut],
        "the lines before episode 6, step 2"
    );
    assert_eq!(
        changed[cut],
        r#"{"episode":6,"step":2,"timeline":"agents[1].strategy=\"alld\", game.donor_cultural.multiplier=3.0"}"#
    );
    assert_eq!(changed.len(), plain.len() + 1, "one line more: the change");
    // From the change on, the givers give nothing and every gift pays its recipient 3 times
    // what it cost; before it, they gave all and a gift paid twice its cost.
    let (mut before, mut after) = (0, 0);
    for line in changed.iter().filter(|l| l.contains("\"give\"")) {
        let v: Value = serde_json::from_str(line).unwrap();
        let (given, target) = (
            v["act"]["value"].as_f64().unwrap(),
            v["act"]["target"].clone(),
        );
        let received = (v["rewards"].as_array().unwrap().iter())
            .find(|r| r["agent"] == target && r["dimension"] == "payoff")
            .unwrap()["value"]
            .as_f64()
            .unwrap();
        let late = time(line) >= (6, 2);
        let multiplier = if late { 3.0 } else { 2.0 };
        assert!((received - multiplier * given).abs() < 1e-9, "{line}");
        if v["speaker"].as_u64().unwrap() >= 4 {
            assert_eq!(given == 0.0, late, "{line}");
            *(if late { &mut after } else { &mut before }) += 1;
        }
    }
    assert!(before > 0 && after > 0, "{before} {after}");
}

#[test]
fn a_change_at_a_step_that_cannot_be_made_is_refused_at_its_line() {
    let cases = [
        (
            "episode = 6\nstep = 0\nset = { multiplier = 3.0 }",
            "step 0 is the episode's start",
        ),
        (
            "episode = 6\nstep = 2\nset = { \"agents[1].count\" = 6 }",
            "`agents[1].count`: part-way through an episode a change may set the game's settings",
        ),
        (
            "episode = 6\nstep = 2\nset = { graph = \"complete\" }",
            "this key changes at an episode's start (leave `step` out)",
        ),
        (
            "episode = 6\nstep = 2\nset = { rounds = 5 }",
            "the change at episode 6, step 2: `donor_cultural`: `rounds`, `games`, `trace_depth`",
        ),
        (
            "episode = 6\nstep = 2\nset = { multiplier = 3.0 }\n[[timeline]]\nepisode = 6\n\
             step = 2\nset = { multiplier = 2.0 }",
            "after the previous change's (6, step 2)",
        ),
    ];
    for (entry, expected) in cases {
        let text = format!(
            "[scenario]\nname = \"t\"\nseed = 8\nepisodes = 12\nmax_steps = 30\n\
             [game.donor_cultural]\nrounds = 4\ngames = 1\n[[agents]]\nstrategy = \"allc\"\n\
             count = 4\n[[timeline]]\n{entry}\n"
        );
        let err = Scenario::parse(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{entry}: {err}");
        assert!(err.starts_with("t.toml:1"), "{entry}: {err}");
    }
    let past = "[scenario]\nname = \"t\"\nmax_steps = 3\n[game.donor_cultural]\n[[agents]]\n\
                strategy = \"allc\"\ncount = 4\n[[timeline]]\nepisode = 0\nstep = 3\n\
                set = { multiplier = 3.0 }\n";
    let err = Scenario::parse(past, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step 3 is past the episode: `max_steps` is 3"),
        "{err}"
    );
    // A game whose settings cannot change part-way.
    let mafia = "[scenario]\nname = \"t\"\n[game.mafia]\n[[agents]]\nstrategy = \"random\"\n\
                 count = 7\n[[timeline]]\nepisode = 0\nstep = 1\nset = { \"game.mafia.mafia\" = 1 }\n";
    let err = Scenario::parse(mafia, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "`mafia`'s settings and its agents' strategies cannot change part-way through an \
             episode (change them at an episode's start: leave `step` out)"
        ),
        "{err}"
    );
}

#[test]
fn a_step_past_its_episodes_end_is_refused_before_the_run_with_the_entrys_line() {
    let err = |text: &str| {
        Scenario::parse(text, Path::new("t.toml"))
            .unwrap_err()
            .to_string()
    };
    // Episodes of 4 rounds of one game: steps 0 to 3; step 3 is the last, step 4 never comes.
    let cultural = |timeline: &str| {
        format!(
            "[scenario]\nname = \"t\"\nepisodes = 12\n[game.donor_cultural]\nrounds = 4\n\
             games = 1\n[[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n{timeline}"
        )
    };
    let at = |step: u32| {
        cultural(&format!(
            "[[timeline]]\nepisode = 6\nstep = {step}\nset = {{ multiplier = 3.0 }}\n"
        ))
    };
    Scenario::parse(&at(3), Path::new("t.toml")).unwrap();
    assert_eq!(
        err(&at(4)),
        "t.toml:12:8: `timeline[0].step`: step 4 is past the episode: an episode of `donor_cultural` here \
         plays 4 steps (0 to 3)"
    );
    // The length in force at the entry's episode: an earlier change made episodes 2 rounds long.
    let shortened = cultural(
        "[[timeline]]\nepisode = 5\nset = { rounds = 2 }\n[[timeline]]\nepisode = 6\nstep = 2\n\
         set = { multiplier = 3.0 }\n",
    );
    assert!(
        err(&shortened).contains(
            "step 2 is past the episode: an episode of `donor_cultural` here plays 2 steps (0 to 1)"
        ),
        "{}",
        err(&shortened)
    );
    // The punishment game: three steps a round.
    let punishment = "[scenario]\nname = \"p\"\n[game.punishment]\nrounds = 2\n[[agents]]\n\
                      strategy = \"punisher\"\ncount = 4\n[[timeline]]\nepisode = 0\nstep = 6\n\
                      set = { \"game.punishment.punishment_cost\" = 2.0 }\n";
    assert!(
        err(punishment).contains("an episode of `punishment` here plays 6 steps (0 to 5)"),
        "{}",
        err(punishment)
    );
}

#[test]
fn raising_the_punishment_cost_part_way_prices_every_later_punishment_anew() {
    // Dasgupta & Musolesi's punishment game: punishers against defectors, the cost of a
    // punishment raised from 1 to 2 at round 5 (step 15) of the second episode.
    let text = "[scenario]\nname = \"p\"\nseed = 3\nepisodes = 2\n[game.punishment]\nrounds = 10\n\
                [[agents]]\nstrategy = \"punisher\"\ncount = 4\n[[agents]]\nstrategy = \"alld\"\n\
                count = 4\n[[timeline]]\nepisode = 1\nstep = 15\n\
                set = { \"game.punishment.punishment_cost\" = 2.0 }\n";
    let (lines, _) = outputs(&Scenario::parse(text, Path::new("p.toml")).unwrap());
    let mut paid = [Vec::new(), Vec::new()];
    for line in lines.iter().filter(|l| l.contains("\"punish\"")) {
        let v: Value = serde_json::from_str(line).unwrap();
        let cost = (v["rewards"].as_array().unwrap().iter())
            .find(|r| r["agent"] == v["speaker"] && r["dimension"] == "payoff")
            .unwrap()["value"]
            .as_f64()
            .unwrap();
        paid[usize::from(time(line) >= (1, 15))].push(cost);
    }
    assert!(paid.iter().all(|p| !p.is_empty()), "{paid:?}");
    assert!(paid[0].iter().all(|&c| c == -1.0), "{:?}", paid[0]);
    assert!(paid[1].iter().all(|&c| c == -2.0), "{:?}", paid[1]);
}

/// A change that retunes `[values]` is measured by its own rules from its episode on: the
/// clusters of values within half the confidence of each other, 0.5 apart before the change and
/// 0.01 after it (the file's confidence had measured every episode).
#[test]
fn value_statistics_follow_a_change_of_the_values_rules() {
    let s = scenario(
        "[values]\nconfidence = 1.0\nrate = 0.01\n\
         [[timeline]]\nepisode = 6\nset = { \"values.confidence\" = 0.02 }\n",
    );
    let (_, metrics) = outputs(&s);
    let column = metrics[0]
        .split(',')
        .position(|c| c == "value_clusters")
        .unwrap();
    let clusters: Vec<f64> = (metrics[1..].iter())
        .map(|row| row.split(',').nth(column).unwrap().parse().unwrap())
        .collect();
    assert!(clusters[..6].iter().all(|&c| c == 1.0), "{clusters:?}");
    assert!(clusters[6..].iter().all(|&c| c > 2.0), "{clusters:?}");
}

/// `socium run` refuses an external agent a change brings (no one would act for it: it had
/// played all-zero actions), and a change keeps its place in the file under `--set` overrides
/// (the errors of a run had pointed into the file as rewritten with them).
#[test]
fn a_timeline_brings_no_external_agent_and_keeps_its_line_under_overrides() {
    let s = scenario(
        "[[timeline]]\nepisode = 6\n\
         set = { \"agents[0]\" = { controller = \"external\", count = 4 } }\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let err = run(&s, dir.path(), |_| {}).unwrap_err().to_string();
    assert!(err.contains("external"), "{err}");
    let text =
        "[scenario]\nname = \"t\"\nseed = 8\nepisodes = 12\n[game.donor_cultural]\nrounds = 4\n\
           games = 1\n[[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n[[agents]]\n\
           strategy = \"allc\"\ncount = 4\nlabel = \"givers\"\n"
            .to_owned()
            + CHANGE;
    let file = Path::new("t.toml");
    let plain = Scenario::parse(&text, file).unwrap();
    let set: Vec<socium::scenario::Override> = vec!["seed=1".parse().unwrap()];
    let overridden = Scenario::parse_with_overrides(&text, file, &set).unwrap();
    assert_eq!(plain.timeline[0].line_column, (15, 1));
    assert_eq!(
        overridden.timeline[0].line_column,
        plain.timeline[0].line_column
    );
}

/// `Sim::retune` with another number of agents says so (it had blamed an agent that was fine).
#[test]
fn a_retune_with_another_number_of_agents_names_the_numbers() {
    let s = scenario("");
    let mut sim = s.sim().unwrap();
    sim.reset(Some(1));
    let fewer = &s.config.agents[..7];
    let err = sim.retune(&*s.game, fewer).unwrap_err().to_string();
    assert_eq!(
        err,
        "7 agents given for the 8 playing: the number of agents does not change part-way"
    );
}
