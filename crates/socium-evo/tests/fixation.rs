//! Fixation probabilities of a single mutant against exact results, each within a 99% binomial
//! interval (±2.576 standard errors of the estimate), or, for the tests with selection under
//! death–birth, Fermi and the evolution loop, within 4 standard errors (a false alarm about once
//! in 16,000 seeds). Each of those also checks that a plausible wrong formula lies outside its
//! interval, so that the test could fail.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use socium_evo::{Evolution, Fitness, Phase, Population, Reproduction, UpdateRule, evolve};
use socium_scenario::Scenario;
use std::path::Path;

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

/// 4 standard errors of a share estimated from `runs` runs whose exact value is `exact`.
fn four_se(exact: f64, runs: usize) -> f64 {
    4.0 * (exact * (1.0 - exact) / runs as f64).sqrt()
}

/// Asserts `estimate` lies within 4 standard errors of `exact`, and every formula in `wrong` lies
/// outside twice that, so that the test tells them apart.
fn assert_within_4_se(estimate: f64, exact: f64, runs: usize, wrong: &[(&str, f64)], what: &str) {
    let half_width = four_se(exact, runs);
    for (name, value) in wrong {
        assert!(
            (value - exact).abs() > 2.0 * half_width,
            "{what}: {name} ({value}) is too close to the exact {exact} to be told apart"
        );
    }
    assert!(
        (estimate - exact).abs() <= half_width,
        "{what}: estimated {estimate}, exact {exact} ± {half_width}"
    );
}

/// The fixation probability of one mutant in a birth–death chain on 0..=N mutants whose
/// transition rates from i mutants have the ratio `gamma(i)` = T⁻(i)/T⁺(i): ρ = 1 / (1 +
/// Σ_{k=1}^{N−1} Π_{i=1}^{k} γ(i)) (Karlin & Taylor 1975; Nowak 2006, "Evolutionary Dynamics",
/// ch. 6).
fn chain_fixation(n: usize, gamma: impl Fn(f64) -> f64) -> f64 {
    let (mut sum, mut product) = (0.0, 1.0);
    for i in 1..n {
        product *= gamma(i as f64);
        sum += product;
    }
    1.0 / (1.0 + sum)
}

/// Moran death–birth in a well-mixed population (Ohtsuki et al. 2006's rule with every other
/// individual a neighbour): a uniformly random individual dies and the other N − 1 compete for
/// its place in proportion to fitness. With i mutants of fitness r among residents of fitness 1,
/// T⁺ = (N − i)/N · r·i/(r·i + N − i − 1) and T⁻ = i/N · (N − i)/(r(i − 1) + N − i), so
/// Π_{i≤k} T⁻/T⁺ = (r·k + N − k − 1)/((N − 1)·r^k), and the chain's sum gives ρ_DB = (N − 1)/N ·
/// (1 − 1/r)/(1 − 1/r^(N−1)) (the mass-action death–birth process beside birth–death: Kaveh,
/// Komarova & Kohandel 2015, "The duality of spatial death–birth and birth–death processes",
/// arXiv 1411.4556). N = 10,
/// r = 2: 0.4509, against 0.5005 under birth–death and 0.1 neutral; 20,000 runs give 4 standard
/// errors of 0.014.
#[test]
fn death_birth_with_selection_matches_the_closed_form() {
    let (n, r) = (10usize, 2.0f64);
    let nf = n as f64;
    let exact = (nf - 1.0) / nf * (1.0 - 1.0 / r) / (1.0 - r.powf(1.0 - nf));
    let chain = chain_fixation(n, |i| {
        (r * i + nf - i - 1.0) / (r * (r * (i - 1.0) + nf - i))
    });
    assert!((exact - chain).abs() < 1e-12, "{exact} vs {chain}");
    assert!((exact - 0.4509).abs() < 5e-5);
    let birth_death = (1.0 - 1.0 / r) / (1.0 - r.powf(-nf));
    let estimate = fixation(n, UpdateRule::DeathBirth, 20, |_| (1.0, r));
    assert_within_4_se(
        estimate,
        exact,
        RUNS,
        &[("birth–death", birth_death), ("neutral", 1.0 / nf)],
        "death–birth, r = 2",
    );
}

/// Traulsen, Nowak & Pacheco (2006), "Stochastic dynamics of invasion and fixation", Phys. Rev.
/// E 74, 011909: under the pairwise comparison (Fermi) process a learner adopts a model's type
/// with probability 1/(1 + e^(−β(π_model − π_learner))), so T⁻/T⁺ = e^(−β(π_A − π_B)) whatever
/// the order of choosing, and ρ_A = 1 / (1 + Σ_{k=1}^{N−1} e^(−β Σ_{i=1}^{k} (π_A(i) − π_B(i)))),
/// with constant payoffs (1 − e^(−βΔ))/(1 − e^(−NβΔ)). Fitness values passed to the rule are
/// payoffs. Checked with a constant payoff advantage (β = 1, Δ = 0.3: 0.2728) and with
/// [`frequency_dependent_game_matches_nowak_et_al_2004`]'s stag hunt, where the mutant A is
/// favoured only once common (β = 1: 0.0128); a rule comparing the other way (β → −β) or
/// ignoring payoffs (1/N) lies outside the 4 standard errors of 20,000 runs.
#[test]
fn fermi_with_selection_matches_traulsen_et_al_2006() {
    let n = 10usize;
    let nf = n as f64;
    // T⁻/T⁺ at i mutants; the chain's product sums the exponents.
    let rho = |beta: f64, advantage: &dyn Fn(f64) -> f64| {
        chain_fixation(n, |i| (-beta * advantage(i)).exp())
    };
    let delta = 0.3;
    let constant = rho(1.0, &|_| delta);
    let closed = (1.0 - (-delta).exp()) / (1.0 - (-nf * delta).exp());
    assert!((constant - closed).abs() < 1e-12 && (closed - 0.2728).abs() < 5e-5);
    let estimate = fixation(n, UpdateRule::Fermi { beta: 1.0 }, 21, |_| (0.0, delta));
    assert_within_4_se(
        estimate,
        constant,
        RUNS,
        &[("β → −β", rho(-1.0, &|_| delta)), ("neutral", 0.1)],
        "Fermi, constant advantage",
    );

    let (a, b, c, d) = (5.0, 0.0, 3.0, 1.0);
    let pi_a = move |i: f64| (a * (i - 1.0) + b * (nf - i)) / (nf - 1.0);
    let pi_b = move |i: f64| (c * i + d * (nf - i - 1.0)) / (nf - 1.0);
    let advantage = |i: f64| pi_a(i) - pi_b(i);
    let exact = rho(1.0, &advantage);
    assert!((exact - 0.0128).abs() < 5e-5, "{exact}");
    let estimate = fixation(n, UpdateRule::Fermi { beta: 1.0 }, 22, |i| {
        (pi_b(i as f64), pi_a(i as f64))
    });
    assert_within_4_se(
        estimate,
        exact,
        RUNS,
        &[("β → −β", rho(-1.0, &advantage)), ("neutral", 0.1)],
        "Fermi, stag hunt",
    );
}

/// One mutant ALLC (type 1) among N − 1 ALLD (type 0) through the whole evolution loop
/// (`evolve`): each generation plays one episode of a one-turn round robin with the 2×2 payoffs
/// `(r, s, t, p)`, turns each agent's summed payoff into fitness and makes one elementary update;
/// `generations` is far more than fixation takes. Returns the share of `runs` runs ALLC fixed in.
fn evolved_fixation(
    n: usize,
    (r, s, t, p): (f64, f64, f64, f64),
    fitness: Fitness,
    rule: UpdateRule,
    runs: u64,
) -> f64 {
    let toml = format!(
        "[scenario]\nname = \"fixation\"\n[game.repeated]\nturns = 1\nmatches = \"at_once\"\n\
         payoffs = {{ t = {t}, r = {r}, p = {p}, s = {s} }}\n[[agents]]\nstrategy = \"alld\"\n\
         [[agents]]\nstrategy = \"allc\"\n"
    );
    let scenario = Scenario::parse(&toml, Path::new("fixation.toml")).unwrap();
    let evolution = Evolution {
        reproduction: Reproduction::Updates { rule, updates: 1 },
        fitness,
        generations: 300,
        episodes: 1,
        memoize: true,
        last_game: None,
    };
    let mut fixed = 0;
    for run in 0..runs {
        let population = Population::from_counts(&[n - 1, 1], 0.0);
        let history = evolve(
            &Phase::only(&*scenario.game, &scenario.config, &scenario.config.agents),
            population,
            &evolution,
            run,
            None,
            &|| (),
        )
        .unwrap();
        let last = &history.last().unwrap().counts;
        assert!(last.contains(&n), "run {run} did not fix: {last:?}");
        fixed += usize::from(last[1] == n);
    }
    fixed as f64 / runs as f64
}

/// Exponential fitness exp(w·π) through the evolution loop. Under birth–death the transition
/// ratio is g_i/f_i = e^(−w(π_A(i) − π_B(i))), so ρ_A has the Fermi process's form with β = w
/// (Traulsen, Shoresh & Nowak 2008, "Analytical results for individual and group selection of
/// any intensity", Bull. Math. Biol. 70). With N = 6, a one-turn round robin of
/// (R, S, T, P) = (3, 1, 1, 0), so an ALLC among i − 1 others earns 3(i − 1) + (N − i) and an
/// ALLD i, and w = 0.2: ρ = 0.5955, against 0.4641 with linear fitness 1 − w + w·π and 1/6
/// neutral. 2,000 runs: 4 standard errors of 0.044.
#[test]
fn exponential_fitness_fixes_as_derived() {
    let (n, w) = (6usize, 0.2);
    let nf = n as f64;
    let (r, s, t, p) = (3.0, 1.0, 1.0, 0.0);
    let pi_a = |i: f64| r * (i - 1.0) + s * (nf - i);
    let pi_b = |i: f64| t * i + p * (nf - i - 1.0);
    let exact = chain_fixation(n, |i| (-w * (pi_a(i) - pi_b(i))).exp());
    assert!((exact - 0.5955).abs() < 5e-5, "{exact}");
    let linear = chain_fixation(n, |i| (1.0 - w + w * pi_b(i)) / (1.0 - w + w * pi_a(i)));
    let runs = 2000;
    let estimate = evolved_fixation(
        n,
        (r, s, t, p),
        Fitness::Exponential { w },
        UpdateRule::BirthDeath,
        runs,
    );
    assert_within_4_se(
        estimate,
        exact,
        runs as usize,
        &[("linear fitness", linear), ("neutral", 1.0 / nf)],
        "exponential fitness, w = 0.2",
    );
}

/// Negative fitness counts as 0 (docs/scenarios.md, `[evolution]`). With linear fitness at w = 1
/// and payoffs (R, S, T, P) = (1, 1, −1, −1), an ALLC earns N − 1 and an ALLD −(N − 1): fitness
/// N − 1 and 0. Under birth–death only ALLC ever reproduces, so it always fixes. Under
/// death–birth it is lost only if it dies first, before any other death: from i ≥ 2 a dead ALLC is
/// replaced by another (the ALLD weigh 0) and a dead ALLD by an ALLC, so ρ = (N − 1)/N = 5/6 for
/// N = 6 (the birth–death chain: T⁻(1)/T⁺(1) = 1/(N − 1), T⁻(i) = 0 for i ≥ 2). Taking |fitness|
/// instead would make the types neutral (1/6). 2,000 runs: 4 standard errors of 0.033.
#[test]
fn negative_fitness_counts_as_zero() {
    let n = 6usize;
    let payoffs = (1.0, 1.0, -1.0, -1.0);
    let linear = Fitness::Linear { w: 1.0 };
    let birth_death = evolved_fixation(n, payoffs, linear, UpdateRule::BirthDeath, 200);
    assert_eq!(
        birth_death, 1.0,
        "birth–death: ALLC fixed in a share {birth_death} of runs"
    );
    let exact = (n as f64 - 1.0) / n as f64;
    let chain = chain_fixation(n, |i| if i < 2.0 { 1.0 / (n as f64 - 1.0) } else { 0.0 });
    assert!((exact - chain).abs() < 1e-12);
    let runs = 2000;
    let estimate = evolved_fixation(n, payoffs, linear, UpdateRule::DeathBirth, runs);
    assert_within_4_se(
        estimate,
        exact,
        runs as usize,
        &[("|fitness|", 1.0 / n as f64)],
        "death–birth, negative fitness",
    );
}
