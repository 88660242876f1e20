//! Each kind of bad scenario is refused with its own error naming file, line, column and key.

use socium::scenario::{Scenario, ScenarioError};
use std::path::Path;

const HEAD: &str = "[scenario]\nname = \"x\"\n";

/// Parses `body` after the `[scenario]` header and returns (line, column, key, message).
fn error(body: &str) -> (usize, usize, String, String) {
    let text = format!("{HEAD}{body}");
    let err = match Scenario::parse(&text, Path::new("bad.toml")) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    let at = err
        .location()
        .unwrap_or_else(|| panic!("no location: {err}"));
    assert_eq!(at.file, Path::new("bad.toml"));
    assert!(
        err.to_string()
            .starts_with(&format!("bad.toml:{}:{}: ", at.line, at.column))
    );
    (at.line, at.column, at.key.clone(), at.message.clone())
}

const AGENTS: &str = "[[agents]]\nstrategy = \"tft\"\ncount = 2\n";

#[test]
fn unknown_key() {
    let (line, col, key, msg) = error(&format!("[game.repeated]\nturnz = 5\n{AGENTS}"));
    assert_eq!((line, col, key.as_str()), (4, 1, "game.repeated.turnz"));
    assert!(
        msg.starts_with("unknown field `turnz`, expected one of"),
        "{msg}"
    );
}

#[test]
fn wrong_type() {
    let (line, col, key, msg) = error(&format!("[game.repeated]\nturns = \"many\"\n{AGENTS}"));
    assert_eq!((line, col, key.as_str()), (4, 9, "game.repeated.turns"));
    // In an author's words, not serde's (`invalid type: string "many", expected u32`).
    assert_eq!(
        msg,
        "expected a whole number from 0 to 4294967295, found string \"many\""
    );
}

#[test]
fn out_of_range_values() {
    let (line, col, key, msg) = error(&format!("[game.repeated]\nnoise = 1.5\n{AGENTS}"));
    assert_eq!((line, col, key.as_str()), (4, 9, "game.repeated.noise"));
    assert_eq!(msg, "expected a probability in [0, 1], found 1.5");

    let (line, _, key, msg) = error(
        "[game.repeated]\n[[agents]]\nstrategy = \"gtft\"\ncount = 2\n\
         params = { generosity = 1.5 }\n",
    );
    assert_eq!((line, key.as_str()), (7, "agents[0].params.generosity"));
    assert_eq!(
        msg,
        "`generosity` of strategy `gtft` is 1.5, expected a number in [0, 1]"
    );

    let (_, _, key, msg) = error(&format!("[game.repeated]\nturns = 0\n{AGENTS}"));
    assert_eq!(
        (key.as_str(), msg.as_str()),
        (
            "game.repeated.turns",
            "expected a whole number ≥ 1, found 0"
        )
    );
}

#[test]
fn unknown_names() {
    let (line, col, key, msg) = error("[game.repeated]\n[[agents]]\nstrategy = \"titfortat\"\n");
    assert_eq!((line, col, key.as_str()), (5, 12, "agents[0].strategy"));
    assert!(
        msg.starts_with("game `repeated` has no strategy `titfortat`; it has allc, alld, tft"),
        "{msg}"
    );

    let (line, _, key, msg) = error(&format!("[game.chess]\n{AGENTS}"));
    assert_eq!((line, key.as_str()), (3, "game.chess"));
    assert!(
        msg.contains("unknown variant `chess`, expected one of"),
        "{msg}"
    );
    // It names every registered game.
    for name in socium::scenario::GAME_NAMES {
        assert!(msg.contains(&format!("`{name}`")), "{msg}");
    }

    let (_, _, key, msg) = error(&format!(
        "[game.repeated]\n{AGENTS}[rewards.fame]\nweight = 1\n"
    ));
    assert_eq!(key, "rewards.fame");
    assert_eq!(
        msg,
        "game `repeated` has no reward dimension `fame`; it has payoff"
    );

    let (_, _, key, msg) =
        error("[game.repeated]\n[[agents]]\nstrategy = \"tft\"\nparams = { mercy = 1 }\n");
    assert_eq!(key, "agents[0].params.mercy");
    assert_eq!(
        msg,
        "strategy `tft` has no parameter `mercy` (it has: none)"
    );
}

#[test]
fn setups_the_rules_refuse() {
    let (_, _, key, msg) = error(
        "[game.repeated]\n[[agents]]\nstrategy = \"tft\"\ncount = 2\n[evolution]\n\
         rule = \"proportional\"\ngenerations = 3\ndrift = { generosity = 0.1 }\n",
    );
    assert_eq!(
        (key.as_str(), msg.as_str()),
        (
            "evolution.drift.generosity",
            "no strategy in play has a parameter `generosity` to drift"
        )
    );

    let (line, _, key, msg) =
        error("[game.donor_cultural]\n[[agents]]\nstrategy = \"allc\"\ncount = 3\n");
    assert_eq!((line, key.as_str()), (3, "game.donor_cultural"));
    assert!(msg.starts_with("needs an even number of agents"), "{msg}");

    // Found by the fuzzer when a game kept every donation for the traces: 4 agents × 2^32 − 1
    // rounds asked for 206 GB of history. The traces are kept as they are made now (trace_depth
    // levels an agent), and the game builds at once.
    let long = "[scenario]\nname = \"x\"\n[game.donor_cultural]\nrounds = 4294967295\ngames = 1\n\
                [[agents]]\nstrategy = \"allc\"\ncount = 4\n";
    let sim = Scenario::parse(long, Path::new("long.toml")).unwrap().sim();
    assert!(sim.is_ok());

    let (_, _, key, msg) =
        error("[game.donor_cultural]\n[[agents]]\nstrategy = \"punisher\"\ncount = 2\n");
    assert_eq!(
        (key.as_str(), msg.as_str()),
        (
            "game.donor_cultural",
            "strategy `punisher` needs `punishment = true`"
        )
    );

    // The notebook's schedule plays as many rounds as agents.
    let (line, _, key, msg) = error(
        "[game.donor_cultural]\nschedule = \"notebook\"\nrounds = 12\n[[agents]]\n\
         strategy = \"allc\"\ncount = 4\n",
    );
    assert_eq!((line, key.as_str()), (3, "game.donor_cultural"));
    assert!(
        msg.contains("`schedule = \"notebook\"`")
            && msg.ends_with("expected `rounds = 4`, found 12"),
        "{msg}"
    );
    let (line, _, key, msg) = error(
        "[game.donor_cultural]\nschedule = \"rotation\"\n[[agents]]\nstrategy = \"allc\"\ncount = 4\n",
    );
    assert_eq!((line, key.as_str()), (4, "game.donor_cultural.schedule"));
    assert!(msg.contains("expected `random` or `notebook`"), "{msg}");

    // Only a game whose episode is several games has a last game to count.
    let (line, _, key, msg) = error(&format!(
        "[game.repeated]\n{AGENTS}[evolution]\nrule = \"proportional\"\ngenerations = 2\n\
         fitness_games = \"last\"\n"
    ));
    assert_eq!((line, key.as_str()), (10, "evolution.fitness_games"));
    assert!(
        msg.contains("an episode of `repeated` is one game"),
        "{msg}"
    );

    let (line, _, _, msg) =
        error("[game.repeated]\n[[agents]]\nstrategy = \"tft\"\ncontroller = \"random\"\n");
    assert_eq!(
        (line, msg.as_str()),
        (
            4,
            "give only one of `strategy`, `policy` or `controller`, not `strategy` and `controller`"
        )
    );

    let six = "[[agents]]\nstrategy = \"tft\"\ncount = 6\n";
    let (_, _, key, msg) = error(&format!(
        "[game.repeated]\n{six}[graph.ring_lattice]\nk = 6\n"
    ));
    assert_eq!(key, "graph.ring_lattice");
    assert_eq!(msg, "k = 6: expected an even number in [2, 5] for 6 agents");
}

#[test]
fn missing_scenario_file() {
    let err = Scenario::load(Path::new("no/such/scenario.toml")).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("no/such/scenario.toml: cannot read the scenario: "),
        "{err}"
    );
}

#[test]
fn edge_lists_missing_or_naming_absent_agents() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    let text = format!("{HEAD}[game.repeated]\n{AGENTS}[graph.edge_list]\npath = \"edges.txt\"\n");
    std::fs::write(&scenario, &text).unwrap();

    let err = Scenario::load(&scenario).unwrap_err();
    let at = err.location().unwrap();
    assert_eq!((at.line, at.key.as_str()), (7, "graph.edge_list"));
    assert!(
        at.message.starts_with("cannot read edge list `"),
        "{}",
        at.message
    );
    assert!(at.message.contains("edges.txt"));

    std::fs::write(dir.path().join("edges.txt"), "# ties\n0 1\n1 5\n").unwrap();
    let err = Scenario::load(&scenario).unwrap_err();
    let message = &err.location().unwrap().message;
    assert!(
        message.ends_with(
            "edges.txt:3: agent 5 does not exist: the scenario has 2 agents (ids 0..=1)"
        ),
        "{message}"
    );

    std::fs::write(dir.path().join("edges.txt"), "0 1 friend 0.5\n").unwrap();
    let s = Scenario::load(&scenario).unwrap();
    let sim = s.sim().unwrap();
    let graph = sim.env().graph();
    assert_eq!(graph.tie_count(), 1);
}

#[test]
fn nested_values_point_at_themselves() {
    let (line, col, key, msg) = error(&format!(
        "[game.repeated]\n{AGENTS}[rewards.payoff]\ntransform = {{ min_max = {{ window = 0 }} }}\n"
    ));
    assert_eq!(
        (line, col, key.as_str()),
        (8, 36, "rewards.payoff.transform.min_max.window")
    );
    assert_eq!(msg, "expected a whole number ≥ 1, found 0");

    let (line, key, msg) = {
        let (l, _, k, m) = error(
            "[game.donor_cultural]\ntrace_depth = 9\n[[agents]]\nstrategy = \"allc\"\ncount = 2\n",
        );
        (l, k, m)
    };
    assert_eq!((line, key.as_str()), (4, "game.donor_cultural.trace_depth"));
    assert_eq!(msg, "expected a whole number in [0, 8], found 9");

    let (_, _, key, msg) = error(&format!("[game.norms]\nnorm = \"l01\"\n{AGENTS}"));
    assert_eq!(key, "game.norms.norm");
    assert!(
        msg.starts_with("unknown norm `l01`, expected one of image_scoring"),
        "{msg}"
    );
}

#[test]
fn missing_tables_are_named() {
    let (line, col, key, msg) = error("[game.repeated]\n");
    assert_eq!((line, col, key.as_str()), (1, 1, ""));
    assert_eq!(msg, "missing field `agents`");
}

#[test]
fn labels_name_one_setup() {
    let (line, _, key, msg) = error(
        "[game.repeated]\n[[agents]]\nstrategy = \"gtft\"\nlabel = \"g\"\n\
         [[agents]]\nstrategy = \"gtft\"\nlabel = \"g\"\nparams = { generosity = 0.5 }\n",
    );
    assert_eq!((line, key.as_str()), (7, "agents[1]"));
    assert_eq!(msg, "label `g` already names agents set up differently");
    // Default labels carry the parameters given, so such groups stay apart.
    let text = format!(
        "{HEAD}[game.repeated]\n[[agents]]\nstrategy = \"gtft\"\n\
         [[agents]]\nstrategy = \"gtft\"\nparams = {{ generosity = 0.5 }}\n"
    );
    let s = Scenario::parse(&text, Path::new("ok.toml")).unwrap();
    let labels: Vec<&str> = s.config.agents.iter().map(|a| &*a.label).collect();
    assert_eq!(labels, ["gtft", "gtft(generosity=0.5)"]);
}

// Regressions found by tests/scenario_fuzz.rs: values that aborted, panicked or hung the parser or
// the Sim they built, refused now with the key and value.

#[test]
fn agent_counts_are_checked_before_anything_is_sized_by_them() {
    // The parser sized Among Us's spaces for every agent before counting them: a failed
    // allocation of 51 GB, which aborts the process.
    let group = "[[agents]]\nstrategy = \"bayesian\"\ncount = 4294967295\n";
    let (line, col, key, msg) = error(&format!("[game.among_us]\n{group}"));
    assert_eq!((line, col, key.as_str()), (6, 9, "agents[0].count"));
    assert_eq!(msg, "4294967295 agents in all: expected at most 1000000");

    // Within the million, Among Us's observations (players² + players × rooms entries each)
    // still took 51 GB for 65,536 players: the game refuses them, before any space is built,
    // also when a policy would be checked against the spaces.
    for controller in ["strategy = \"bayesian\"", "policy = \"missing.onnx\""] {
        let (line, _, key, msg) = error(&format!(
            "[game.among_us]\n[[agents]]\n{controller}\ncount = 65536\n"
        ));
        assert_eq!((line, key.as_str()), (3, "game.among_us"));
        assert_eq!(
            msg,
            "65536 players on a 3 × 2 grid observe more than 16777216 entries in all (players² + \
             players × rooms each): expected at most 16777216"
        );
    }
    let (_, _, key, msg) = error(
        "[game.among_us]\nwidth = 4294967295\nheight = 2\n[[agents]]\nstrategy = \"bayesian\"\n\
         count = 5\n",
    );
    assert_eq!(key, "game.among_us");
    assert!(
        msg.starts_with("5 players on a 4294967295 × 2 grid observe more than 16777216 entries"),
        "{msg}"
    );
    let (_, _, key, msg) = error("[game.mafia]\n[[agents]]\nstrategy = \"random\"\ncount = 1001\n");
    assert_eq!(key, "game.mafia");
    assert_eq!(
        msg,
        "observations and memories grow as the square of the players: expected at most 1000 \
         players, found 1001"
    );
}

#[test]
fn lists_sized_by_settings_are_bounded() {
    // Among Us summed the task steps left in a u32 (a panic on overflow at reset), and dealt
    // every crewmate its tasks in a list.
    let five = "[[agents]]\nstrategy = \"bayesian\"\ncount = 5\n";
    let (_, _, key, msg) = error(&format!("[game.among_us]\ntask_steps = 4294967295\n{five}"));
    assert_eq!(key, "game.among_us");
    assert_eq!(
        msg,
        "5 players with 3 tasks of 4294967295 steps each: expected at most 1048576 tasks and \
         4294967295 task steps in all"
    );
    let (_, _, _, msg) = error(&format!("[game.among_us]\ntasks = 1000000\n{five}"));
    assert!(
        msg.starts_with("5 players with 1000000 tasks of 3 steps each"),
        "{msg}"
    );
    let (_, _, _, msg) = error(&format!("[game.among_us]\nmessages = 4294967295\n{five}"));
    assert_eq!(
        msg,
        "5 players saying 4294967295 messages each in a discussion: expected at most 1048576 \
         messages in all"
    );
    // Mafia listed a discussion's speakers up front: 60 GB for 2^31 messages each.
    let (_, _, key, msg) = error(
        "[game.mafia]\ndiscussion = 2147483648\n[[agents]]\nstrategy = \"random\"\ncount = 7\n",
    );
    assert_eq!(key, "game.mafia");
    assert_eq!(
        msg,
        "7 players saying 2147483648 messages each in a day's discussion: expected at most \
         1048576 messages in all"
    );
    let (_, _, _, msg) = error(
        "[game.mafia]\ndiscussion = 2000000\nspeaking = \"bidding\"\n[[agents]]\n\
         strategy = \"random\"\ncount = 7\n",
    );
    assert_eq!(
        msg,
        "a debate of 2000000 turns a day: expected at most 1048576"
    );
}

#[test]
fn vanishing_observation_probabilities_do_not_hang() {
    // A probability below 2^-54 (1 − q rounds to 1) made rand_distr's `Geometric::new` loop
    // forever while the Sim was built. Such observers are never drawn.
    let games = [
        "[game.image_scoring]\nobservation = 5e-324\n",
        "[game.image_scoring]\nobservation = 1e-17\n",
        "[game.norms]\nassessment = \"private\"\nobservation = 5e-324\n",
    ];
    for game in games {
        let text = format!("{HEAD}{game}[[agents]]\nstrategy = \"allc\"\ncount = 10\n");
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let s = Scenario::parse(&text, Path::new("tiny.toml")).unwrap();
            let mut sim = s.sim().unwrap();
            let actions = vec![0.0; sim.agent_count() * sim.spaces().action.flat_dim()];
            while !sim.env().is_done() {
                sim.step(&actions).unwrap();
            }
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{game}: no episode within a minute"));
    }
}

#[test]
fn reward_transforms_that_cannot_be_served() {
    let (_, _, key, msg) = error(&format!(
        "[game.repeated]\n{AGENTS}[rewards.payoff]\ntransform = {{ par = {{ reference = {{ group = \"alld\" }} }} }}\n"
    ));
    assert_eq!(key, "rewards.payoff.transform");
    assert_eq!(
        msg,
        "reference group `alld`: no agent is labelled so; the labels are tft"
    );

    let (_, _, key, msg) = error(&format!(
        "[game.repeated]\n{AGENTS}[rewards.payoff]\ntransform = {{ clip = {{ low = 2, high = 1 }} }}\n"
    ));
    assert_eq!(
        (key.as_str(), msg.as_str()),
        (
            "rewards.payoff.transform",
            "`clip`: `low` (2) is above `high` (1)"
        )
    );

    let (_, _, key, msg) = error(&format!(
        "[game.repeated]\n{AGENTS}[rewards.payoff]\ntransform = {{ par = {{ reference = {{ percentile = {{ p = 1.5, window = 3 }} }} }} }}\n"
    ));
    assert_eq!(key, "rewards.payoff.transform.par.reference.percentile.p");
    assert_eq!(msg, "expected a probability in [0, 1], found 1.5");

    let (_, _, key, msg) = error(&format!(
        "[game.repeated]\n{AGENTS}[rewards.payoff]\ntransform = \"softmax\"\n"
    ));
    assert_eq!(key, "rewards.payoff.transform");
    assert!(
        msg.contains("unknown variant `softmax`") && msg.contains("`rank`"),
        "{msg}"
    );
}

#[test]
fn edge_list_lines_the_graph_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    let text = format!("{HEAD}[game.repeated]\n{AGENTS}[graph.edge_list]\npath = \"edges.txt\"\n");
    std::fs::write(&scenario, &text).unwrap();
    for (edges, says) in [
        ("0 1\n0 0\n", "edges.txt:2: self-tie of agent 0"),
        (
            "0 1 friend abc\n",
            "edges.txt:1: weight `abc` is not a finite number",
        ),
        (
            "0 1 friend inf\n",
            "edges.txt:1: weight `inf` is not a finite number",
        ),
        (
            "0 1 friend 0.5 extra\n",
            "edges.txt:1: expected `a b [relationship] [weight]`, found 5 fields",
        ),
    ] {
        std::fs::write(dir.path().join("edges.txt"), edges).unwrap();
        let err = Scenario::load(&scenario).unwrap_err();
        let at = err.location().unwrap();
        assert_eq!((at.line, at.key.as_str()), (7, "graph.edge_list"));
        assert!(at.message.ends_with(says), "{edges:?}: {}", at.message);
    }
}

#[test]
fn numbers_of_the_wrong_kind() {
    // A count is a whole number, not `10.0`; a finite number is not `inf` or `nan`.
    let (line, col, key, msg) = error(&format!("[game.repeated]\nturns = 10.0\n{AGENTS}"));
    assert_eq!((line, col, key.as_str()), (4, 9, "game.repeated.turns"));
    assert!(
        msg.starts_with("expected a whole number") && msg.ends_with("found floating point `10.0`"),
        "{msg}"
    );
    for bad in ["inf", "-inf", "nan"] {
        let (line, _, key, msg) = error(&format!(
            "[game.repeated]\n{AGENTS}[rewards.payoff]\nweight = {bad}\n"
        ));
        assert_eq!((line, key.as_str()), (8, "rewards.payoff.weight"));
        assert!(msg.starts_with("expected a finite number, found"), "{msg}");
    }
}

#[test]
fn a_group_needs_one_controller() {
    // Neither a strategy, a policy nor a controller (with or without params): the group says
    // what it may be.
    for group in ["count = 2\n", "count = 2\nparams = { generosity = 0.1 }\n"] {
        let (line, _, key, msg) = error(&format!("[game.repeated]\n[[agents]]\n{group}"));
        assert_eq!((line, key.as_str()), (4, "agents[0]"));
        assert_eq!(
            msg,
            "expected one of `strategy = \"...\"`, `policy = \"file.onnx\"` or \
             `controller = \"random\" | \"external\"`"
        );
    }
}

#[test]
fn deduction_setups_with_too_many_hidden_players() {
    let (_, _, key, msg) =
        error("[game.mafia]\nmafia = 3\n[[agents]]\nstrategy = \"random\"\ncount = 6\n");
    assert_eq!(
        (key.as_str(), msg.as_str()),
        (
            "game.mafia",
            "3 mafia among 6 players: the mafia must be fewer than the town"
        )
    );
    // The smallest game with a seer and a doctor: 1 mafia, 2 town.
    let three = "[[agents]]\nstrategy = \"random\"\ncount = 3\n";
    assert!(
        Scenario::parse(
            &format!("{HEAD}[game.mafia]\nseer = true\ndoctor = true\n{three}"),
            Path::new("ok.toml")
        )
        .is_ok()
    );
    let (_, _, key, msg) =
        error("[game.among_us]\nimposters = 2\n[[agents]]\nstrategy = \"bayesian\"\ncount = 4\n");
    assert_eq!(
        (key.as_str(), msg.as_str()),
        (
            "game.among_us",
            "2 imposters among 4 players: the imposters must be fewer than the crewmates"
        )
    );
}
