//! Ties that form and break (`[ties]`): a punishment weakens the tie it crosses and cuts it below
//! the threshold, after which the two can no longer meet; a gift strengthens it; triadic closure
//! adds ties between friends of friends within the budget and the graph stays simple; the VecEnv
//! equals its Sims on 1 and 2 threads; a favour returned brings strangers one relationship level
//! closer; bad settings are refused at their key.

use socium::core::{AgentId, GraphStats, Relationship, Sim};
use socium::scenario::Scenario;
use std::path::Path;

mod common;

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("t.toml")).unwrap()
}

fn weight(sim: &Sim, a: u32, b: u32) -> Option<f32> {
    sim.env()
        .graph()
        .tie(AgentId(a), AgentId(b))
        .map(|t| t.weight)
}

#[test]
fn a_punishment_weakens_its_tie_and_a_weak_tie_is_cut() {
    // Two trainer's agents of the punishment game; a punishment costs its target (a payoff
    // entry on the punisher's act): the tie loses 0.3, and is cut below 0.5 — at the second.
    let text = "[scenario]\nname = \"t\"\nseed = 1\n[game.punishment]\nrounds = 4\n\
                [ties]\nweaken = 0.3\ncut_below = 0.5\n\
                [[agents]]\ncontroller = \"external\"\ncount = 2\n";
    let mut sim = scenario(text).sim().unwrap();
    // Agent 0's observation is the first row.
    let has_partner = |sim: &Sim| {
        sim.env().observations()[socium::games::donor::punishment::obs::HAS_PARTNER] == 1.0
    };
    for (before, after) in [(1.0, Some(0.7)), (0.7, None)] {
        sim.step(&[0.0, 0.0]).unwrap(); // choose
        assert!(has_partner(&sim));
        sim.step(&[0.0, 0.0]).unwrap(); // both defect: no cost across the tie
        assert!((weight(&sim, 0, 1).unwrap() - before).abs() < 1e-6);
        sim.step(&[1.0, 0.0]).unwrap(); // 0 punishes 1
        match after {
            Some(w) => assert!((weight(&sim, 0, 1).unwrap() - w).abs() < 1e-6),
            None => assert_eq!(weight(&sim, 0, 1), None, "a tie of weight 0.4 is cut"),
        }
    }
    // Once cut, the two never meet again: nobody has a partner.
    sim.step(&[0.0, 0.0]).unwrap();
    assert!(!has_partner(&sim));
    assert!(sim.env().utterances().is_empty(), "nobody chose anyone");
}

#[test]
fn a_gift_strengthens_the_tie_it_crosses() {
    let text = "[scenario]\nname = \"t\"\nseed = 2\n[game.donor_cultural]\nrounds = 4\ngames = 1\n\
                [graph]\nring_lattice = { k = 2 }\n[ties]\nstrengthen = 0.25\n\
                [[agents]]\nstrategy = \"allc\"\ncount = 6\n";
    let mut sim = scenario(text).sim().unwrap();
    let total = |sim: &Sim| -> f32 {
        (0..6u32)
            .map(|a| weight(sim, a, (a + 1) % 6).unwrap())
            .sum()
    };
    let mut gifts = 0;
    for _ in 0..4 {
        let before = total(&sim);
        sim.step(&[0.0; 6]).unwrap();
        let given = (sim.env().utterances().iter())
            .filter(|u| u.act.kind == "give" && u.act.value > 0.0)
            .count();
        gifts += given;
        assert!((total(&sim) - before - 0.25 * given as f32).abs() < 1e-5);
    }
    assert!(gifts > 0);
}

#[test]
fn closure_adds_friends_of_friends_within_the_budget_and_keeps_the_graph_simple() {
    let text = "[scenario]\nname = \"t\"\nseed = 3\nepisodes = 12\n[game.opinion]\nrounds = 2\n\
                [graph]\nring_lattice = { k = 2 }\n[ties]\nclosure = 0.5\nbudget = 4\n\
                [[agents]]\nstrategy = \"sincere\"\ncount = 40\n";
    let mut sim = scenario(text).sim().unwrap();
    let labels = vec!["x"; 40];
    let start = GraphStats::of(sim.env().graph(), &labels);
    assert_eq!(start.clustering, 0.0);
    let actions = vec![0.0; 40];
    for _ in 0..12 {
        while !sim.env().is_done() {
            sim.step(&actions).unwrap();
        }
        let graph = sim.env().graph();
        for a in (0..40).map(AgentId) {
            let ns = graph.neighbours(a).to_vec();
            assert!(ns.len() <= 4, "{a} has {} ties, budget 4", ns.len());
            assert!(!ns.contains(&a), "{a} is tied to itself");
            assert!(ns.windows(2).all(|w| w[0] < w[1]), "{a}: a pair tied twice");
        }
        sim.reset(None);
    }
    let end = GraphStats::of(sim.env().graph(), &labels);
    assert!(
        end.mean_degree > start.mean_degree && end.clustering > 0.1,
        "{end:?}"
    );
}

#[test]
fn moving_ties_is_the_same_on_one_and_two_threads_and_in_sims() {
    let text = "[scenario]\nname = \"t\"\nseed = 4\n[game.donor_cultural]\nrounds = 6\ngames = 2\n\
                punishment = true\n[graph]\nwatts_strogatz = { k = 4, p = 0.2 }\n\
                [ties]\nweaken = 0.5\nstrengthen = 0.1\ncut_below = 0.6\nclosure = 0.4\nbudget = 6\nreciprocity = 0.5\n\
                [[agents]]\nstrategy = \"punisher\"\ncount = 6\n[[agents]]\nstrategy = \"alld\"\ncount = 6\n";
    let s = scenario(text);
    common::vec_env_equals_sequential_stepping("ties", &s, &s.config, 6, 40);
}

#[test]
fn bad_tie_settings_are_refused_at_their_key() {
    let head = "[scenario]\nname = \"t\"\n[game.donor_cultural]\n[[agents]]\nstrategy = \"allc\"\ncount = 4\n";
    for (ties, expected) in [
        (
            "dimension = \"love\"",
            "`ties.dimension`: game `donor_cultural` has no reward dimension `love`",
        ),
        ("weaken = -1", "`ties.weaken`: expected a finite number ≥ 0"),
        (
            "closure = 2",
            "`ties.closure`: expected a probability in [0, 1]",
        ),
        ("budget = 0", "`ties.budget`: expected a whole number ≥ 1"),
        (
            "reciprocity = 1.5",
            "`ties.reciprocity`: expected a probability in [0, 1]",
        ),
        ("strength = 1", "unknown field `strength`"),
    ] {
        let text = format!("{head}[ties]\n{ties}\n");
        let err = Scenario::parse(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{ties}: {err}");
    }
    let big = "[scenario]\nname = \"t\"\n[game.opinion]\n[ties]\nclosure = 0.1\n\
               [[agents]]\nstrategy = \"sincere\"\ncount = 2001\n";
    let err = Scenario::parse(big, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("complete graph of 2001 agents"), "{err}");
}

#[test]
fn each_favour_returned_brings_strangers_one_level_closer() {
    // Two donors of the cultural game tied as strangers; the halves give in turn, one round a
    // step, so every second round returns the favour of the round before. An always-defector
    // gives nothing: no favour, no change.
    use Relationship::{Acquaintance, Friend, KnowByName, Stranger};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("two.edges"), "0 1 stranger\n").unwrap();
    let kinds = |second: &str| -> Vec<Relationship> {
        let text = format!(
            "[scenario]\nname = \"t\"\nseed = 4\n[game.donor_cultural]\nrounds = 8\ngames = 1\n\
             [graph]\nedge_list = {{ path = \"two.edges\" }}\n[ties]\nreciprocity = 1.0\n\
             [[agents]]\nstrategy = \"allc\"\ncount = 1\n[[agents]]\nstrategy = \"{second}\"\n\
             count = 1\n"
        );
        let file = dir.path().join("t.toml");
        std::fs::write(&file, text).unwrap();
        let mut sim = Scenario::load(&file).unwrap().sim().unwrap();
        (0..8)
            .map(|_| {
                sim.step(&[0.0; 2]).unwrap();
                sim.env().graph().tie(AgentId(0), AgentId(1)).unwrap().kind
            })
            .collect()
    };
    assert_eq!(
        kinds("allc"),
        [
            Stranger,
            KnowByName,
            KnowByName,
            Acquaintance,
            Acquaintance,
            Friend,
            Friend,
            Friend
        ]
    );
    assert_eq!(kinds("alld"), [Stranger; 8]);
}
