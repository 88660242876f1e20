//! Bounded-confidence opinion dynamics against the published results: Deffuant et al. 2000
//! (consensus at the mean for ε ≥ 0.5, about ⌊1/(2ε)⌋ major clusters below; the sum of opinions
//! kept by every encounter) and Hegselmann & Krause 2002 (opinions stay in the convex hull of the
//! start; consensus for large ε, fragmentation for small); zealots never move; bad settings are
//! refused at their key.

use socium::core::{MetricId, Sim};
use socium::games::opinion::{CLUSTERS, obs};
use socium::scenario::Scenario;
use std::path::Path;

fn sim(model: &str, epsilon: f64, agents: usize, extra: &str, seed: u64) -> Sim {
    let text = format!(
        "[scenario]\nname = \"o\"\nseed = {seed}\n[game.opinion]\nmodel = \"{model}\"\n\
         epsilon = {epsilon}\nrounds = 100\n[[agents]]\nstrategy = \"sincere\"\ncount = {agents}\n{extra}"
    );
    Scenario::parse(&text, Path::new("o.toml"))
        .unwrap()
        .sim()
        .unwrap()
}

/// Every agent's opinion, from its observation.
fn opinions(sim: &Sim) -> Vec<f64> {
    let obs_dim = sim.spaces().observation.flat_dim();
    (sim.env().observations().chunks(obs_dim))
        .map(|row| f64::from(row[obs::OPINION]))
        .collect()
}

/// Plays the episode, calling `each` with the opinions after every step; returns the metric.
fn play(sim: &mut Sim, mut each: impl FnMut(&[f64]), metric: MetricId) -> f64 {
    let actions = vec![0.0; sim.agent_count()];
    while !sim.env().is_done() {
        sim.step(&actions).unwrap();
        each(&opinions(sim));
    }
    sim.env().metrics().mean(metric).unwrap()
}

#[test]
fn deffuant_with_a_wide_bound_agrees_on_the_mean() {
    // Every encounter between sincere agents moves both by the same amount toward each other:
    // the mean is kept (to float32 observations' precision) and, for ε = 0.5, all end there.
    // The start's mean is within 0.05 of 0.5 (3 standard errors for 300 uniform opinions).
    let mut s = sim("deffuant", 0.5, 300, "", 11);
    let start = opinions(&s);
    let mean = start.iter().sum::<f64>() / 300.0;
    assert!((mean - 0.5).abs() < 0.05, "{mean}");
    let clusters = play(
        &mut s,
        |x| {
            let m = x.iter().sum::<f64>() / 300.0;
            assert!((m - mean).abs() < 1e-6, "the mean moved: {m} vs {mean}");
        },
        CLUSTERS,
    );
    assert_eq!(clusters, 1.0);
    for x in opinions(&s) {
        assert!((x - mean).abs() < 1e-3, "{x} is not the mean {mean}");
    }
}

#[test]
fn deffuant_with_a_narrow_bound_splits_into_about_one_over_two_epsilon_clusters() {
    // ε = 0.2: ⌊1/(2ε)⌋ = 2; Deffuant et al.'s runs give 2 or 3 major clusters. Five seeds.
    for seed in 0..5 {
        let mut s = sim("deffuant", 0.2, 400, "", seed);
        let clusters = play(&mut s, |_| {}, CLUSTERS);
        assert!(
            (2.0..=3.0).contains(&clusters),
            "seed {seed}: {clusters} clusters"
        );
    }
}

#[test]
fn hegselmann_krause_stays_in_the_hull_and_fragments_as_the_bound_narrows() {
    for (epsilon, expected) in [(0.6, 1.0..=1.0), (0.05, 4.0..=12.0)] {
        let mut s = sim("hegselmann_krause", epsilon, 200, "", 3);
        let start = opinions(&s);
        let lo = start.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = start.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let clusters = play(
            &mut s,
            |x| {
                for &v in x {
                    assert!(v >= lo - 1e-7 && v <= hi + 1e-7, "{v} left [{lo}, {hi}]");
                }
            },
            CLUSTERS,
        );
        assert!(
            expected.contains(&clusters),
            "ε = {epsilon}: {clusters} clusters"
        );
    }
}

#[test]
fn zealots_hold_their_target_and_pull_the_others() {
    let zealots = "[[agents]]\nstrategy = \"zealot\"\nparams = { target = 0.9 }\ncount = 20\n";
    for model in ["deffuant", "hegselmann_krause"] {
        let mut s = sim(model, 0.5, 40, zealots, 5);
        let mean_of_sincere = |x: &[f64]| x[..40].iter().sum::<f64>() / 40.0;
        let before = mean_of_sincere(&opinions(&s));
        play(
            &mut s,
            |x| {
                assert!(
                    x[40..].iter().all(|&v| v == 0.9_f32 as f64),
                    "a zealot moved"
                )
            },
            CLUSTERS,
        );
        let after = mean_of_sincere(&opinions(&s));
        assert!(after > before + 0.1, "{model}: {before} -> {after}");
    }
}

#[test]
fn bad_opinion_settings_are_refused_at_their_key() {
    let cases = [
        (
            "mu = 0.6",
            "`game.opinion.mu`: expected a number in (0, 0.5], found 0.6",
        ),
        (
            "epsilon = 0",
            "`game.opinion.epsilon`: expected a number in (0, 1], found 0",
        ),
        ("model = \"voter\"", "unknown variant `voter`"),
    ];
    for (setting, expected) in cases {
        let text = format!(
            "[scenario]\nname = \"o\"\n[game.opinion]\n{setting}\n[[agents]]\nstrategy = \"sincere\"\ncount = 3\n"
        );
        let err = Scenario::parse(&text, Path::new("o.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{setting}: {err}");
    }
}

/// A Sim of `agents` sincere agents of `model` (ε = 1, μ = 0.25, and the game's `settings`) on
/// the ties `edges` (an edge list, `a b relationship weight` a line), kept with the scenario in
/// `dir`.
fn on_ties(dir: &Path, model: &str, settings: &str, agents: usize, edges: &str) -> Sim {
    std::fs::write(dir.join("ties.edges"), edges).unwrap();
    let text = format!(
        "[scenario]\nname = \"o\"\nseed = 2\n[game.opinion]\nmodel = \"{model}\"\nepsilon = 1.0\n\
         mu = 0.25\nrounds = 5\n{settings}\n[graph]\nedge_list = {{ path = \"ties.edges\" }}\n\
         [[agents]]\nstrategy = \"sincere\"\ncount = {agents}\n"
    );
    let file = dir.join("o.toml");
    std::fs::write(&file, text).unwrap();
    Scenario::load(&file).unwrap().sim().unwrap()
}

#[test]
fn a_ties_weight_and_the_trust_in_its_kind_scale_the_pull_of_an_encounter() {
    // Two agents: a step is two encounters, each moving both by μ·w of the gap (at most to the
    // middle), so the gap shrinks by (1 − 2μw)² a step: 0.5625 at w = 0.5, 0.25 at w = 1, and
    // 0 at w = 3 (μw capped at 0.5: they meet in the middle). A tie's w is its weight times the
    // trust in its relationship: a trust of 3 in friends acts as a weight of 3, a trust of 0 in
    // strangers leaves strangers where they are and friends as they were.
    let dir = tempfile::tempdir().unwrap();
    for (settings, edges, factor) in [
        ("", "0 1 friend 0.5\n", 0.5625),
        ("", "0 1 friend 1\n", 0.25),
        ("", "0 1 friend 3\n", 0.0),
        ("trust = { friend = 3.0 }", "0 1 friend 1\n", 0.0),
        ("trust = { stranger = 0.0 }", "0 1 stranger 1\n", 1.0),
        ("trust = { stranger = 0.0 }", "0 1 friend 1\n", 0.25),
    ] {
        let mut sim = on_ties(dir.path(), "deffuant", settings, 2, edges);
        let before = opinions(&sim);
        sim.step(&[0.0, 0.0]).unwrap();
        let after = opinions(&sim);
        let want = (before[1] - before[0]) * factor;
        assert!(
            (after[1] - after[0] - want).abs() < 1e-6,
            "{settings}, {edges}: {before:?} → {after:?}"
        );
    }
}

/// Hegselmann & Krause's (2002) update, `x_i' = mean{x_j : j = i or a neighbour, |x_j − x_i| ≤
/// ε}`, computed here from the start's opinions, against both of the game's ways of finding the
/// neighbours within ε: the sorted window of a complete graph, and the scan of listed ties (every
/// pair but one of two agents within ε of each other, so that the list is not complete). ε =
/// 0.15 among 30 agents splits the start into overlapping windows, so a window's ends and the
/// agent's own place in it both count.
#[test]
fn hegselmann_krause_moves_each_agent_to_the_mean_within_epsilon_on_either_graph() {
    let (n, epsilon) = (30, 0.15);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("o.toml");
    let load = |graph: &str| {
        let text = format!(
            "[scenario]\nname = \"o\"\nseed = 5\n[game.opinion]\nmodel = \"hegselmann_krause\"\n\
             epsilon = {epsilon}\nrounds = 5\n{graph}[[agents]]\nstrategy = \"sincere\"\ncount = {n}\n"
        );
        std::fs::write(&file, text).unwrap();
        Scenario::load(&file).unwrap().sim().unwrap()
    };
    let mut complete = load("");
    let x = opinions(&complete);
    let near = |a: usize, b: usize| (x[a] - x[b]).abs() <= epsilon;
    let sizes: Vec<usize> = (0..n)
        .map(|a| (0..n).filter(|&b| near(a, b)).count())
        .collect();
    assert!(
        sizes.iter().any(|&k| k > 2) && sizes.iter().any(|&k| k < n),
        "{sizes:?}"
    );
    let cut = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .find(|&(a, b)| near(a, b))
        .unwrap();
    let listed: String = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .filter(|&pair| pair != cut)
        .map(|(a, b)| format!("{a} {b}\n"))
        .collect();
    std::fs::write(dir.path().join("ties.edges"), listed).unwrap();
    let mut ties = load("[graph]\nedge_list = { path = \"ties.edges\" }\n");
    assert_eq!(opinions(&ties), x, "the same start");
    for (sim, tied) in [
        (
            &mut complete,
            &(|_, _| true) as &dyn Fn(usize, usize) -> bool,
        ),
        (&mut ties, &|a, b| (a.min(b), a.max(b)) != cut),
    ] {
        sim.step(&[0.0; 30]).unwrap();
        for (a, got) in opinions(sim).into_iter().enumerate() {
            let within: Vec<f64> = (0..n)
                .filter(|&b| b == a || (tied(a, b) && near(a, b)))
                .map(|b| x[b])
                .collect();
            let want = within.iter().sum::<f64>() / within.len() as f64;
            // Observations are f32.
            assert!(
                (got - want).abs() < 1e-6,
                "agent {a} (cut {cut:?}): {got} vs {want}"
            );
        }
    }
}

#[test]
fn hegselmann_krause_weighs_each_neighbour_by_its_tie() {
    // A path 0 – 1 – 2 with weights 0.5 and 3, ε = 1 (everyone within): each agent moves to the
    // mean of itself (weight 1) and its neighbours, each weighted by its tie; the same weights
    // come from ties of weight 1 and the trust in their relationships.
    let dir = tempfile::tempdir().unwrap();
    for (settings, edges) in [
        ("", "0 1 acquaintance 0.5\n1 2 friend 3\n"),
        (
            "trust = { stranger = 0.5, friend = 3.0 }",
            "0 1 stranger 1\n1 2 friend 1\n",
        ),
    ] {
        let mut sim = on_ties(dir.path(), "hegselmann_krause", settings, 3, edges);
        let x = opinions(&sim);
        sim.step(&[0.0; 3]).unwrap();
        let want = [
            (x[0] + 0.5 * x[1]) / 1.5,
            (x[1] + 0.5 * x[0] + 3.0 * x[2]) / 4.5,
            (x[2] + 3.0 * x[1]) / 4.0,
        ];
        for (got, want) in opinions(&sim).iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{settings}: {got} vs {want}");
        }
    }
}
