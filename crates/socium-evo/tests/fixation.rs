//! Fixation probabilities of a single mutant against exact results, each within a 99% binomial
//! interval (±2.576 standard errors of the estimate).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use socium_evo::{Population, UpdateRule};

const RUNS: usize = 20_000;

/// Runs `RUNS` populations of `n` from one type-1 mutant until one type fixes; returns the share
/// of runs the mutant fixed. `fitness(mutants)` gives (resident, mutant) fitness.
fn fixation(n: usize, rule: UpdateRule, seed: u64, fitness: impl Fn(usize) -> (f64, f64)) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fixed = 0;
    let mut values = vec![0.0; n];
    for _ in 0..RUNS {
        let mut p = Population::from_counts(&[n - 1, 1], 0.0);
        while p.fixed().is_none() {
            let mutants = p.types.iter().filter(|&&t| t == 1).count();
            let (resident, mutant) = fitness(mutants);
            for (v, &t) in values.iter_mut().zip(&p.types) {
                *v = if t == 1 { mutant } else { resident };
            }
            p.update(rule, &values, None, &mut rng);
        }
        fixed += (p.fixed() == Some(1)) as usize;
    }
    fixed as f64 / RUNS as f64
}

fn assert_within_99(estimate: f64, exact: f64, what: &str) {
    let half_width = 2.576 * (exact * (1.0 - exact) / RUNS as f64).sqrt();
    assert!(
        (estimate - exact).abs() <= half_width,
        "{what}: estimated {estimate}, exact {exact} ± {half_width}"
    );
}

/// Moran (1958): one mutant of constant relative fitness r among N fixes with probability
/// (1 − 1/r)/(1 − 1/r^N) under birth–death; N = 10, r = 1.1 gives 0.1480. Neutral: 1/N.
#[test]
fn moran_constant_fitness() {
    let (n, r) = (10, 1.1f64);
    let exact = (1.0 - 1.0 / r) / (1.0 - 1.0 / r.powi(n as i32));
    assert!((exact - 0.1480).abs() < 5e-5);
    assert_within_99(
        fixation(n, UpdateRule::BirthDeath, 1, |_| (1.0, r)),
        exact,
        "r = 1.1",
    );
    assert_within_99(
        fixation(n, UpdateRule::BirthDeath, 2, |_| (1.0, 1.0)),
        0.1,
        "neutral",
    );
}

/// Neutral drift fixes a mutant with probability 1/N under every rule.
#[test]
fn neutral_fixation_under_every_rule() {
    for (i, rule) in [UpdateRule::DeathBirth, UpdateRule::Fermi { beta: 0.0 }]
        .into_iter()
        .enumerate()
    {
        assert_within_99(
            fixation(10, rule, 10 + i as u64, |_| (1.0, 1.0)),
            0.1,
            &format!("{rule:?}"),
        );
    }
}

/// Nowak, Sasaki, Taylor & Fudenberg (2004), Nature 428: in a well-mixed population of N playing
/// the 2×2 game (A vs A: a, A vs B: b, B vs A: c, B vs B: d) without self-interaction, with i
/// A-players an A earns [a(i−1) + b(N−i)]/(N−1) and a B earns [c·i + d(N−i−1)]/(N−1); with
/// fitness f_i = 1 − w + w·(A's payoff) and g_i likewise for B, one A fixes under birth–death with
/// probability ρ_A = 1 / (1 + Σ_{k=1}^{N−1} Π_{i=1}^{k} g_i/f_i).
#[test]
fn frequency_dependent_game_matches_nowak_et_al_2004() {
    let (n, w) = (10usize, 0.5);
    // A stag hunt: A (stag) pays 5 together, B (hare) 3 against A and 1 together.
    let (a, b, c, d) = (5.0, 0.0, 3.0, 1.0);
    let nf = n as f64;
    let f = |i: f64| 1.0 - w + w * (a * (i - 1.0) + b * (nf - i)) / (nf - 1.0);
    let g = |i: f64| 1.0 - w + w * (c * i + d * (nf - i - 1.0)) / (nf - 1.0);
    let mut sum = 0.0;
    let mut product = 1.0;
    for k in 1..n {
        product *= g(k as f64) / f(k as f64);
        sum += product;
    }
    let exact = 1.0 / (1.0 + sum);
    assert!(
        (exact - 0.1).abs() > 0.02,
        "the game matters: ρ_A = {exact}"
    );
    let estimate = fixation(n, UpdateRule::BirthDeath, 3, |i| (g(i as f64), f(i as f64)));
    assert_within_99(estimate, exact, "stag hunt");
}

/// On a graph, updates only ever copy a type along ties: with two blocks and no tie between them,
/// a type never crosses from one block to the other, under every rule.
#[test]
fn updates_follow_the_social_graph() {
    use socium_core::{GraphSpec, SimRng, bounded::Probability};
    let p = |v| Probability::new(v).unwrap();
    let spec = GraphSpec::StochasticBlock {
        sizes: vec![5, 5],
        p_in: p(1.0),
        p_out: p(0.0),
    };
    let graph = spec.generate(10, &mut SimRng::new(1));
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for rule in [
        UpdateRule::BirthDeath,
        UpdateRule::DeathBirth,
        UpdateRule::Fermi { beta: 1.0 },
    ] {
        let mut pop = Population::from_counts(&[5, 5], 0.0);
        for _ in 0..2000 {
            pop.update(rule, &[1.0; 10], Some(&graph), &mut rng);
        }
        assert_eq!(pop.types, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], "{rule:?}");
    }
}
