//! Values that spread (`[values]`): every act aimed at another agent pulls the two values together
//! by bounded confidence (Deffuant et al. 2000), exactly; a seeded reset draws values afresh and
//! an unseeded one keeps them; ties formed by homophily join only similar agents within the
//! budget and keep the graph simple; a run writes the value statistics; the VecEnv equals its
//! Sims; bad settings are refused at their key.

use socium::core::{AgentId, Sim};
use socium::scenario::{Scenario, run};
use std::path::Path;

mod common;

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("v.toml")).unwrap()
}

/// Two `allc` players of the repeated game (each turn both act on each other), with `[values]`.
fn pair(confidence: f64) -> Sim {
    scenario(&format!(
        "[scenario]\nname = \"v\"\nseed = 3\n[game.repeated]\nturns = 5\n[values]\n\
         confidence = {confidence}\nrate = 0.25\n[[agents]]\nstrategy = \"allc\"\ncount = 2\n"
    ))
    .sim()
    .unwrap()
}

fn values(sim: &Sim) -> Vec<f64> {
    sim.env().values().expect("the agents hold values").to_vec()
}

fn play(sim: &mut Sim, steps: usize) {
    let width = sim.agent_count() * sim.spaces().action.flat_dim();
    for _ in 0..steps {
        sim.step(&vec![0.0; width]).unwrap();
    }
}

#[test]
fn each_act_at_a_partner_pulls_both_values_together_by_the_rate() {
    // Two acts a turn, each an encounter moving both ends a quarter of the gap: the gap shrinks
    // by (1 − 2 · 0.25) per act, the mean stays.
    let mut sim = pair(1.0);
    let start = values(&sim);
    assert!(start.iter().all(|v| (0.0..1.0).contains(v)) && start[0] != start[1]);
    play(&mut sim, 3);
    let end = values(&sim);
    let gap = (start[1] - start[0]) * 0.5f64.powi(6);
    assert!((end[1] - end[0] - gap).abs() < 1e-12, "{start:?} → {end:?}");
    assert!((end[0] + end[1] - start[0] - start[1]).abs() < 1e-12);
}

#[test]
fn partners_farther_apart_than_the_confidence_do_not_move() {
    let mut sim = pair(1e-9);
    let start = values(&sim);
    play(&mut sim, 5);
    assert_eq!(values(&sim), start);
}

#[test]
fn a_seeded_reset_draws_values_and_an_unseeded_one_keeps_them() {
    let mut sim = pair(1.0);
    sim.reset(Some(5));
    let five = values(&sim);
    play(&mut sim, 5);
    let moved = values(&sim);
    sim.reset(None);
    assert_eq!(values(&sim), moved, "kept across an unseeded reset");
    sim.reset(Some(6));
    assert_ne!(values(&sim), five);
    sim.reset(Some(5));
    assert_eq!(values(&sim), five);
}

/// The cultural donor game on a small world with values and homophily (within 0.05, budget 6).
const HOMOPHILY: &str = "[scenario]\nname = \"v\"\nseed = 4\n[game.donor_cultural]\nrounds = 4\n\
                         games = 1\n[graph]\nwatts_strogatz = { k = 2, p = 0.1 }\n[values]\n\
                         confidence = 0.3\nrate = 0.2\n[ties]\nhomophily = 0.5\n\
                         similar_within = 0.05\nbudget = 6\n[[agents]]\nstrategy = \"allc\"\n\
                         count = 40\n";

#[test]
fn homophily_ties_only_similar_agents_within_the_budget() {
    let mut sim = scenario(HOMOPHILY).sim().unwrap();
    let n = sim.agent_count();
    let tie_list = |sim: &Sim| {
        let mut ties = Vec::new();
        for a in 0..n as u32 {
            for &b in sim.env().graph().neighbours(AgentId(a)).iter() {
                assert_ne!(b, AgentId(a), "a self-tie");
                if b.0 > a {
                    ties.push((a, b.0));
                }
            }
        }
        ties
    };
    let mut formed = 0;
    for _ in 0..10 {
        let before = tie_list(&sim);
        let degree_before: Vec<usize> = (0..n as u32)
            .map(|a| sim.env().graph().degree(AgentId(a)))
            .collect();
        play(&mut sim, 4);
        assert!(sim.env().is_done());
        // The values the episode's end left, which the new ties were formed on.
        let v = values(&sim);
        for &(a, b) in tie_list(&sim).iter().filter(|t| !before.contains(t)) {
            let (a, b) = (a as usize, b as usize);
            assert!(
                (v[a] - v[b]).abs() <= 0.05 + 1e-12,
                "{a}–{b}: {} vs {}",
                v[a],
                v[b]
            );
            formed += 1;
        }
        for (a, &before) in degree_before.iter().enumerate() {
            let degree = sim.env().graph().degree(AgentId(a as u32));
            assert!(degree <= before.max(6), "agent {a}: {degree} ties");
        }
        sim.reset(None);
    }
    assert!(formed > 10, "{formed} ties formed");
}

#[test]
fn values_drift_the_same_on_one_and_two_threads_and_in_sims() {
    let s = scenario(HOMOPHILY);
    common::vec_env_equals_sequential_stepping("values", &s, &s.config, 6, 24);
}

#[test]
fn a_run_writes_the_value_statistics() {
    let s = scenario(&HOMOPHILY.replace("seed = 4", "seed = 4\nepisodes = 3"));
    let dir = tempfile::tempdir().unwrap();
    let summary = run(&s, dir.path(), |_| {}).unwrap();
    let stats = summary.values.expect("values in the summary");
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|&h| h == name).unwrap();
    let rows: Vec<Vec<&str>> = (csv.lines().skip(1))
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3);
    // The same episodes played here: each row holds the mean of the values at its episode's
    // end, and their clusters split by gaps over confidence / 2 (0.15), each of 2% of the
    // agents at least; the summary holds the last episode's.
    let mut sim = s.sim().unwrap();
    for (episode, row) in rows.iter().enumerate() {
        if episode > 0 {
            sim.reset(None);
        }
        while !sim.env().is_done() {
            play(&mut sim, 1);
        }
        let v = values(&sim);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let clusters = socium::core::clusters(&v, 0.15, 0.02);
        let cell = |name: &str| row[at(name)].parse::<f64>().unwrap();
        assert!(
            (cell("value_mean") - mean).abs() < 1e-12,
            "episode {episode}"
        );
        assert_eq!(cell("value_clusters"), clusters as f64, "episode {episode}");
        if episode == 2 {
            assert!((stats.mean - mean).abs() < 1e-12);
            assert_eq!(stats.clusters, clusters);
        }
    }
}

#[test]
fn bad_value_settings_are_refused_at_their_key() {
    let head = "[scenario]\nname = \"v\"\n[game.donor_cultural]\n[[agents]]\nstrategy = \"allc\"\ncount = 4\n";
    for (table, expected) in [
        (
            "[values]\nconfidence = 0\nrate = 0.2",
            "v.toml:8:14: `values.confidence`: expected a number in (0, 1]",
        ),
        (
            "[values]\nconfidence = 0.2\nrate = 0.6",
            "v.toml:9:8: `values.rate`: expected a number in (0, 0.5]",
        ),
        ("[values]\nrate = 0.2", "missing field `confidence`"),
        (
            "[ties]\nhomophily = 0.2",
            "v.toml:8:13: `ties.homophily`: ties formed by homophily join agents of similar \
             values: give the agents values with a `[values]` table",
        ),
    ] {
        let err = Scenario::parse(&format!("{head}{table}\n"), Path::new("v.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{table}: {err}");
    }
}
