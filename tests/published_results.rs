//! The donor-game family against published results and closed forms. Each test cites its source
//! and states its tolerance.

use socium::core::{MetricId, Sim};
use socium::scenario::Scenario;
use std::path::Path;

fn sim(toml: &str) -> Sim {
    let scenario = Scenario::parse(toml, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"));
    scenario.sim().unwrap()
}

fn play_episode(sim: &mut Sim) {
    let actions = vec![0.0; sim.agent_count() * sim.spaces().action.flat_dim()];
    while !sim.env().is_done() {
        sim.step(&actions).unwrap();
    }
}

/// Mean per-episode payoff of agents `ids`, over `episodes` episodes.
/// Mean per-episode payoff of each group of agents, over `episodes` episodes.
fn mean_payoffs<const G: usize>(
    sim: &mut Sim,
    episodes: usize,
    groups: [std::ops::Range<usize>; G],
) -> [f64; G] {
    let dims = sim.env().reward_dimensions().len();
    let mut totals = [0.0; G];
    for e in 0..episodes {
        if e > 0 {
            sim.reset(None);
        }
        play_episode(sim);
        for (total, ids) in totals.iter_mut().zip(&groups) {
            *total += ids
                .clone()
                .map(|a| sim.env().episode_raw_rewards()[a * dims])
                .sum::<f64>();
        }
    }
    std::array::from_fn(|g| totals[g] / (episodes * groups[g].len()) as f64)
}

/// Axelrod round robin, T = 5, R = 3, P = 1, S = 0, 200 turns, no noise: every match of the eight
/// deterministic strategies worked out by hand (and checked against the `axelrod` library's
/// `Match.final_score`). Totals must match exactly, whether the matches are played by round (7
/// episodes) or all at once (1 episode).
#[test]
fn round_robin_totals_equal_hand_computed_match_scores() {
    let names = [
        "allc",
        "alld",
        "tft",
        "grudger",
        "wsls",
        "tf2t",
        "stft",
        "alternator",
    ];
    #[rustfmt::skip]
    let matches: [(&str, &str, f64, f64); 28] = [
        ("allc", "alld", 0.0, 1000.0),       // S every turn / T every turn
        ("allc", "tft", 600.0, 600.0),       // R every turn
        ("allc", "grudger", 600.0, 600.0),
        ("allc", "wsls", 600.0, 600.0),
        ("allc", "tf2t", 600.0, 600.0),
        ("allc", "stft", 597.0, 602.0),      // S + 199 R / T + 199 R
        ("allc", "alternator", 300.0, 800.0),// 100 R + 100 S / 100 R + 100 T
        ("alld", "tft", 204.0, 199.0),       // T + 199 P / S + 199 P
        ("alld", "grudger", 204.0, 199.0),
        ("alld", "wsls", 600.0, 100.0),      // WSLS alternates C, D: 100 T + 100 P / 100 S + 100 P
        ("alld", "tf2t", 208.0, 198.0),      // 2 T + 198 P / 2 S + 198 P
        ("alld", "stft", 200.0, 200.0),      // P every turn
        ("alld", "alternator", 600.0, 100.0),
        ("tft", "grudger", 600.0, 600.0),
        ("tft", "wsls", 600.0, 600.0),
        ("tft", "tf2t", 600.0, 600.0),
        ("tft", "stft", 500.0, 500.0),       // (C, D), (D, C) alternate: 100 S + 100 T each
        ("tft", "alternator", 498.0, 503.0), // R, then (C, D) on even turns, (D, C) on odd ones
        ("grudger", "wsls", 600.0, 600.0),
        ("grudger", "tf2t", 600.0, 600.0),
        ("grudger", "stft", 203.0, 203.0),   // (C, D), (D, C), then 198 P
        ("grudger", "alternator", 597.0, 107.0), // R, (C, D), then 99 (D, C) and 99 (D, D)
        ("wsls", "tf2t", 600.0, 600.0),
        ("wsls", "stft", 401.0, 401.0),      // cycle (C, D), (D, C), (D, D): 66 cycles + 2 turns
        ("wsls", "alternator", 450.0, 450.0),// cycle (C,C), (C,D), (D,C), (D,D): 50 cycles of 9
        ("tf2t", "stft", 597.0, 602.0),      // S, then R
        ("tf2t", "alternator", 300.0, 800.0),
        ("stft", "alternator", 500.0, 500.0),
    ];
    let mut expected = [0.0; 8];
    for (a, b, sa, sb) in matches {
        expected[names.iter().position(|n| *n == a).unwrap()] += sa;
        expected[names.iter().position(|n| *n == b).unwrap()] += sb;
    }
    let agents: String = names
        .iter()
        .map(|n| format!("[[agents]]\nstrategy = \"{n}\"\n"))
        .collect();
    for (matches, episodes) in [("by_round", 7), ("at_once", 1)] {
        let mut sim = sim(&format!(
            "[scenario]\nname = \"rr\"\n[game.repeated]\nturns = 200\n\
             matches = \"{matches}\"\n{agents}"
        ));
        let mut totals = [0.0; 8];
        for episode in 0..episodes {
            if episode > 0 {
                sim.reset(None);
            }
            play_episode(&mut sim);
            for (a, t) in totals.iter_mut().enumerate() {
                *t += sim.env().episode_raw_rewards()[a];
            }
        }
        assert_eq!(totals, expected, "{matches}");
    }
}

/// Vallinder & Hughes (2024): with everyone giving everything, the recipients of round t hold
/// everything their pair ever made, `(1 + m)·10` after round 1 and `m` times more each round, and
/// the donors nothing; so the mean final resources are `(1 + m)·10·m^(rounds − 1) / 2`, which for
/// m = 2 and 12 rounds is the paper's 30·2^11/2 = 30,720. Everyone giving nothing keeps 10. For a
/// fixed share f, the two halves follow `donors' = (1 − f)·donors`, `recipients' = recipients +
/// m·f·donors`, roles swapping each round. All exact in binary floating point for these values.
#[test]
fn cultural_donor_game_matches_the_analytic_final_resources() {
    let final_resources = |strategy: &str, multiplier: f64| {
        let mut sim = sim(&format!(
            "[scenario]\nname = \"x\"\n[game.donor_cultural]\nmultiplier = {multiplier}\n\
             [[agents]]\ncount = 12\n{strategy}"
        ));
        play_episode(&mut sim);
        (
            sim.env().metrics().mean(MetricId(1)).unwrap(),
            sim.env().episode_raw_rewards()[0],
        )
    };
    let (allc, payoff) = final_resources("strategy = \"allc\"", 2.0);
    assert_eq!(allc, 30.0 * 2f64.powi(11) / 2.0);
    assert_eq!(allc, 30_720.0);
    // Over the two games every agent ends once as a final recipient with its pair's 30·2^11 and
    // once as a final donor with nothing, having started each game with 10.
    assert_eq!(payoff, 30.0 * 2f64.powi(11) - 2.0 * 10.0);
    assert_eq!(
        final_resources("strategy = \"allc\"", 3.0).0,
        40.0 * 3f64.powi(11) / 2.0
    );
    assert_eq!(final_resources("strategy = \"alld\"", 2.0).0, 10.0);

    let (mut donors, mut recipients, f, m) = (10.0, 10.0, 0.5, 2.0);
    for _ in 0..12 {
        (donors, recipients) = (recipients + m * f * donors, (1.0 - f) * donors);
    }
    let fixed = final_resources("strategy = \"fixed\"\nparams = { share = 0.5 }", 2.0).0;
    assert_eq!(fixed, (donors + recipients) / 2.0);
}

fn norms_cooperation(norm: &str, strategy: &str, error: f64) -> f64 {
    let mut sim = sim(&format!(
        "[scenario]\nname = \"x\"\nseed = 11\n[game.norms]\nrounds = 100\nnorm = \"{norm}\"\n\
         assessment = \"public\"\nassessment_error = {error}\n\
         [[agents]]\ncount = 400\nstrategy = \"{strategy}\"\n"
    ));
    play_episode(&mut sim);
    sim.env().metrics().mean(MetricId(0)).unwrap()
}

/// Ohtsuki & Iwasa (2004): in a well-mixed population of discriminators under public assessment
/// with assessment error μ, L3–L6 keep the Good fraction, and so cooperation, at 1 − μ. L1 and L2
/// (whose donors also help when they are Bad) assess every act of theirs Good too, so cooperation
/// is 1 − μ + μ² (Bad meets Bad and helps). L7 and L8 assess a Bad donor's refusal of a Bad
/// recipient as Bad, so the Bad fraction b solves b = μ(1 − b²) + (1 − μ)b², i.e.
/// (1 − 2μ)b² − b + μ = 0. Tolerance 0.005 on 40,000 decisions (standard error about 0.001).
#[test]
fn leading_eight_keep_cooperation_at_one_minus_mu() {
    let mu: f64 = 0.05;
    for (i, rule) in ["l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"]
        .iter()
        .enumerate()
    {
        let bad_l7 = (1.0 - (1.0 - 4.0 * mu * (1.0 - 2.0 * mu)).sqrt()) / (2.0 * (1.0 - 2.0 * mu));
        let (strategy, expected) = match i {
            0 | 1 => ("apologetic_discriminator", 1.0 - mu + mu * mu),
            2..=5 => ("discriminator", 1.0 - mu),
            _ => ("discriminator", 1.0 - bad_l7),
        };
        let c = norms_cooperation(rule, strategy, mu);
        assert!(
            (c - expected).abs() < 0.005,
            "{rule}: cooperation {c}, expected {expected}"
        );
    }
    for alias in ["simple_standing", "stern_judging"] {
        let c = norms_cooperation(alias, "discriminator", mu);
        assert!((c - (1.0 - mu)).abs() < 0.005, "{alias}: cooperation {c}");
    }
}

/// Image scoring as a norm does not: a Good donor who refuses a Bad recipient turns Bad, so the
/// Good fraction g follows g' = (1 − μ)·g + μ·(1 − g) → 1/2 from g = 1, and cooperation over the
/// 100 rounds averages 1/2 + (1/2)·Σ_t (1 − 2μ)^t / 100. Tolerance 0.02.
#[test]
fn image_scoring_norm_does_not_keep_cooperation() {
    let mu: f64 = 0.05;
    let expected = 0.5 + 0.5 * (0..100).map(|t| (1.0 - 2.0 * mu).powi(t)).sum::<f64>() / 100.0;
    let c = norms_cooperation("image_scoring", "discriminator", mu);
    assert!(
        (c - expected).abs() < 0.02,
        "cooperation {c}, expected {expected}"
    );
    assert!(c < 1.0 - mu - 0.3);
}

/// Nowak & Sigmund (1998): discriminators (k = 0) resist defectors iff q·b > c, q the chance of
/// knowing the recipient's image. Here each agent sees each donation with probability
/// `observation`, so a donor knows the recipient's image in round t (0-based) with probability
/// q_t = 1 − (1 − observation)^t; over 3 rounds per generation (newborns start at image 0) the
/// mean q is 0.42 for observation = 0.5 and 0.020 for observation = 0.02, so q·b = 4.2c and 0.2c
/// with b = 1, c = 0.1. Among 90 discriminators and 10 ALLD, discriminators earn more in the first
/// setting and ALLD in the second. The expected gaps are about 0.75 and 0.25 per generation; 200
/// generations bring the standard error of each mean under 0.05.
#[test]
fn image_scoring_discriminators_resist_alld_iff_qb_exceeds_c() {
    let payoffs = |q: f64| {
        let mut sim = sim(&format!(
            "[scenario]\nname = \"x\"\nseed = 5\n[game.image_scoring]\nrounds = 3\nbenefit = 1\n\
             cost = 0.1\nobservation = {q}\n[[agents]]\ncount = 90\nstrategy = \"discriminator\"\n\
             params = {{ k = 0 }}\n[[agents]]\ncount = 10\nstrategy = \"alld\"\n"
        ));
        let [disc, alld] = mean_payoffs(&mut sim, 200, [0..90, 90..100]);
        (disc, alld)
    };
    let (disc, alld) = payoffs(0.5);
    assert!(
        disc > alld + 0.3,
        "q·b > c: discriminators {disc}, ALLD {alld}"
    );
    let (disc, alld) = payoffs(0.02);
    assert!(
        alld > disc + 0.1,
        "q·b < c: discriminators {disc}, ALLD {alld}"
    );
}
