//! The donor-game family against published results and closed forms. Each test cites its source
//! and states its tolerance.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use socium::core::{MetricId, Sim};
use socium::games::donor::indirect::obs;
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

/// Vallinder & Hughes (2024), under the paper's schedule (`schedule = "random"`, the default:
/// halves in strict alternation): with everyone giving everything, the recipients of round t hold
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

/// The same under the released notebook's schedule (`schedule = "notebook"`;
/// aronvallinder/llm-donor-game, `Donor_Game_with_Cultural_Evolution.ipynb`, cells 10, 11, 14):
/// with 12 agents the halves donate A B A B A B B A B A B A, so the half that donates in round 7
/// gave everything in round 6 and has nothing left, and the pair's wealth doubles in 10 rounds of
/// 12, not 11: the mean final resources are `(1 + m)·10·m^(rounds − 2) / 2` = 15,360, half the
/// paper's, in each of the two games. Exact in binary floating point.
#[test]
fn cultural_donor_game_under_the_notebook_schedule_ends_at_half_the_papers_resources() {
    let final_resources = |games: u32| {
        let mut sim = sim(&format!(
            "[scenario]\nname = \"x\"\n[game.donor_cultural]\nschedule = \"notebook\"\n\
             games = {games}\n[[agents]]\ncount = 12\nstrategy = \"allc\"\n"
        ));
        play_episode(&mut sim);
        sim.env().metrics().mean(MetricId(1)).unwrap()
    };
    // The first game alone, then the mean of both: the second game ends where the first does.
    assert_eq!(final_resources(1), 30.0 * 2f64.powi(10) / 2.0);
    assert_eq!(final_resources(1), 15_360.0);
    assert_eq!(final_resources(2), 15_360.0);
}

fn norms_cooperation(norm: &str, strategy: &str, error: f64, rounds: u32) -> f64 {
    let mut sim = sim(&format!(
        "[scenario]\nname = \"x\"\nseed = 11\n[game.norms]\nrounds = {rounds}\nnorm = \"{norm}\"\n\
         assessment = \"public\"\nassessment_error = {error}\n\
         [[agents]]\ncount = 400\nstrategy = \"{strategy}\"\n"
    ));
    play_episode(&mut sim);
    sim.env().metrics().mean(MetricId(0)).unwrap()
}

/// The three ways the leading eight assess a population playing their own action rule (Ohtsuki &
/// Iwasa 2004; 2006, "The leading eight: social norms that can maintain cooperation by indirect
/// reciprocity", J. Theor. Biol. 239). L1 and L2, L3 to L6, and L7 and L8 differ only in entries
/// such a population never meets, so each group's members play identically on one seed.
#[derive(Clone, Copy, Debug)]
enum LeadingEight {
    /// L1, L2 with apologetic discriminators: every act is assessed Good (GGC, GBD, BGC, BBC).
    Apologetic,
    /// L3–L6 with discriminators: every act is assessed Good (GGC, GBD, BGC, BBD).
    Standing,
    /// L7, L8 with discriminators: a Bad donor's refusal of a Bad recipient (BBD) is Bad.
    Strict,
}

impl LeadingEight {
    /// The expected cooperation rate over `rounds` rounds from an all-Good start, in the
    /// well-mixed, infinite-population limit of Ohtsuki & Iwasa: with Bad fraction b at the start
    /// of a round, cooperation is 1 − b(1 − b) for apologetic discriminators (a Good donor refuses
    /// a Bad recipient) and 1 − b for discriminators; the next Bad fraction is μ for L1–L6 (every
    /// act assessed Good, then flipped with probability μ) and μ(1 − b²) + (1 − μ)b² for L7/L8.
    /// Its fixed points are the paper's 1 − μ + μ² (L1, L2), 1 − μ (L3–L6) and 1 − b* with
    /// (1 − 2μ)b*² − b* + μ = 0 (L7, L8).
    fn expected_cooperation(self, mu: f64, rounds: u32) -> f64 {
        let (mut bad, mut sum) = (0.0, 0.0);
        for _ in 0..rounds {
            let (cooperation, next) = match self {
                LeadingEight::Apologetic => (1.0 - bad * (1.0 - bad), mu),
                LeadingEight::Standing => (1.0 - bad, mu),
                LeadingEight::Strict => {
                    (1.0 - bad, mu * (1.0 - bad * bad) + (1.0 - mu) * bad * bad)
                }
            };
            sum += cooperation;
            bad = next;
        }
        sum / f64::from(rounds)
    }
}

/// Ohtsuki & Iwasa (2004, 2006): in a well-mixed population under public assessment with
/// assessment error μ, L3–L6 discriminators keep cooperation at 1 − μ, L1/L2 apologetic
/// discriminators at 1 − μ + μ², and L7/L8 discriminators at 1 − b*, b* the root of
/// (1 − 2μ)b² − b + μ = 0 (see [`LeadingEight`]). At μ = 0.3 these are 0.79, 0.70 and 0.651,
/// 0.09 and 0.049 apart (at μ = 0.05 they were 0.0025 apart); the expected rate over the episode
/// includes the all-Good first round.
///
/// Tolerance: 400 agents × 200 rounds = 80,000 decisions. A decision is the recipient's
/// reputation; a round's rate varies with the draw of recipients (variance p(1 − p)/N) and with
/// the Good fraction itself (again about p(1 − p)/N, each reputation freshly assessed every
/// round). For L7/L8 a Bad reputation persists (lag-one correlation 0.14 at μ = 0.3) and the Bad
/// fraction feeds back on itself (slope 2(1 − 2μ)b* = 0.28), inflating the variance by less than
/// (1 + 0.28)/(1 − 0.28) = 1.8. So the standard error is at most √(4p(1 − p)/80,000) ≈ 0.0034
/// (over 40 seeds the rates' standard deviations were 0.0013, 0.0022 and 0.0030 for L1, L3 and
/// L7), and each rate must lie within 4 of them (0.013) of its expectation; an L7 built like L3
/// (0.049 off) fails. On the one seed the three groups must also come out in order.
#[test]
fn leading_eight_keep_cooperation_at_one_minus_mu() {
    let (mu, rounds, decisions): (f64, u32, f64) = (0.3, 200, 400.0 * 200.0);
    let rules = ["l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"];
    let mut measured = [0.0; 8];
    for (i, rule) in rules.iter().enumerate() {
        let (strategy, kind) = match i {
            0 | 1 => ("apologetic_discriminator", LeadingEight::Apologetic),
            2..=5 => ("discriminator", LeadingEight::Standing),
            _ => ("discriminator", LeadingEight::Strict),
        };
        let expected = kind.expected_cooperation(mu, rounds);
        let c = norms_cooperation(rule, strategy, mu, rounds);
        let tolerance = 4.0 * (4.0 * expected * (1.0 - expected) / decisions).sqrt();
        assert!(
            (c - expected).abs() < tolerance,
            "{rule}: cooperation {c}, expected {expected} ± {tolerance}"
        );
        measured[i] = c;
    }
    // The closed forms themselves are far apart relative to the tolerance (about 0.013).
    let steady = |kind: LeadingEight| kind.expected_cooperation(mu, 10_000);
    let b_star = (1.0 - (1.0 - 4.0 * mu * (1.0 - 2.0 * mu)).sqrt()) / (2.0 * (1.0 - 2.0 * mu));
    assert!((steady(LeadingEight::Apologetic) - (1.0 - mu + mu * mu)).abs() < 1e-3);
    assert!((steady(LeadingEight::Standing) - (1.0 - mu)).abs() < 1e-3);
    assert!((steady(LeadingEight::Strict) - (1.0 - b_star)).abs() < 1e-3);
    assert!(steady(LeadingEight::Apologetic) - steady(LeadingEight::Standing) > 0.08);
    assert!(steady(LeadingEight::Standing) - steady(LeadingEight::Strict) > 0.04);
    // The ordering on one seed: L1, L2 above L3–L6 above L7, L8.
    let (l12, l36, l78) = (&measured[..2], &measured[2..6], &measured[6..]);
    let max = |s: &[f64]| s.iter().copied().fold(f64::MIN, f64::max);
    let min = |s: &[f64]| s.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        min(l12) > max(l36) && min(l36) > max(l78),
        "ordering: {measured:?}"
    );
    for (alias, same) in [("simple_standing", 2), ("stern_judging", 5)] {
        let c = norms_cooperation(alias, "discriminator", mu, rounds);
        assert_eq!(c, measured[same], "{alias} is {}", rules[same]);
    }
}

/// The norm tables of docs/scenarios.md §3.3, read from the document: each named norm must
/// assess all eight (donor, recipient, action) situations as its row says, including those a
/// population of discriminators never meets (a Good donor helping a Bad recipient, GBC; a Bad
/// donor refusing a Good one, BGD; a Good donor refusing a Good one, GGD). External agents act at
/// random under public assessment without errors; each step, a donor's observation gives its own
/// and its recipient's reputation, and its `reputation` reward the change the assessment made.
#[test]
fn every_documented_norm_assesses_as_its_table() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scenarios.md")).unwrap();
    let section = &doc[doc.find("### 3.3 `[game.norms]`").unwrap()..];
    let table = &section[section.find("| name | list |").unwrap()..];
    let rows: Vec<(Vec<String>, [u8; 8])> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let names = cells[1]
                .split(',')
                .map(|n| n.trim().trim_matches('`').to_string());
            let bits: Vec<u8> = cells[2]
                .trim_matches(|c| c == '`' || c == '[' || c == ']')
                .split(',')
                .map(|b| b.trim().parse().unwrap())
                .collect();
            (names.collect(), bits.try_into().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 10, "{rows:?}");
    let documented: std::collections::BTreeSet<&str> = rows
        .iter()
        .flat_map(|(names, _)| names.iter().map(String::as_str))
        .collect();
    // The names the game accepts, from its error on an unknown one, are the documented ones.
    let err = Scenario::parse(
        "[scenario]\nname = \"x\"\n[game.norms]\nnorm = \"l9\"\n[[agents]]\ncount = 2\n\
         strategy = \"alld\"\n",
        Path::new("test.toml"),
    )
    .unwrap_err()
    .to_string();
    let accepted: std::collections::BTreeSet<&str> = err
        [err.find("expected one of ").unwrap() + "expected one of ".len()..]
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    assert_eq!(accepted, documented, "{err}");

    let situations = ["BBD", "BBC", "BGD", "BGC", "GBD", "GBC", "GGD", "GGC"];
    for (names, bits) in &rows {
        for name in names {
            let mut sim = sim(&format!(
                "[scenario]\nname = \"x\"\nseed = 3\n[game.norms]\nrounds = 60\n\
                 norm = \"{name}\"\n[[agents]]\ncount = 20\ncontroller = \"external\"\n"
            ));
            let n = sim.agent_count();
            let obs_dim = sim.spaces().observation.flat_dim();
            let dims = sim.env().reward_dimensions();
            let reputation = dims.iter().position(|d| d.name == "reputation").unwrap();
            let dims = dims.len();
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let mut seen: [Option<u8>; 8] = [None; 8];
            while !sim.env().is_done() {
                let before = sim.env().observations().to_vec();
                let actions: Vec<f32> = (0..n).map(|_| f32::from(rng.random::<bool>())).collect();
                sim.step(&actions).unwrap();
                for a in 0..n {
                    let row = &before[a * obs_dim..(a + 1) * obs_dim];
                    if row[obs::DONOR] != 1.0 {
                        continue;
                    }
                    let own = row[obs::OWN_REPUTATION] as u8;
                    let recipient = row[obs::RECIPIENT_REPUTATION] as u8;
                    let situation =
                        usize::from(own) << 2 | usize::from(recipient) << 1 | actions[a] as usize;
                    let change = sim.env().raw_rewards()[a * dims + reputation];
                    let new = (f64::from(own) + change) as u8;
                    assert!(
                        seen[situation].is_none_or(|s| s == new),
                        "{name}: {} assessed both ways",
                        situations[situation]
                    );
                    seen[situation] = Some(new);
                }
            }
            let assessed: Vec<u8> = seen
                .iter()
                .enumerate()
                .map(|(i, s)| s.unwrap_or_else(|| panic!("{name}: {} never met", situations[i])))
                .collect();
            assert_eq!(assessed, bits, "{name}: {situations:?}");
        }
    }
}

/// Image scoring as a norm does not: a Good donor who refuses a Bad recipient turns Bad, so the
/// Good fraction g follows g' = (1 − μ)·g + μ·(1 − g) → 1/2 from g = 1, and cooperation over the
/// 100 rounds averages 1/2 + (1/2)·Σ_t (1 − 2μ)^t / 100. Tolerance 0.02.
#[test]
fn image_scoring_norm_does_not_keep_cooperation() {
    let mu: f64 = 0.05;
    let expected = 0.5 + 0.5 * (0..100).map(|t| (1.0 - 2.0 * mu).powi(t)).sum::<f64>() / 100.0;
    let c = norms_cooperation("image_scoring", "discriminator", mu, 100);
    assert!(
        (c - expected).abs() < 0.02,
        "cooperation {c}, expected {expected}"
    );
    assert!(c < 1.0 - mu - 0.3);
}

/// Nowak & Sigmund (1998): discriminators (k = 0) resist defectors iff q·b > c, q the chance of
/// knowing the recipient's image. Here each agent sees each donation with probability p
/// (`observation`). With 2 rounds a generation the payoff gap has a closed form: in round 0 no
/// one knows anything and every discriminator helps; in round 1 a discriminator refuses an ALLD
/// iff it saw that ALLD's refusal in round 0 (probability p), so q = p/2 on average; no
/// discriminator's image has yet fallen below 0 when anyone decides (a refusal in round 1 is
/// never acted on), so nothing else moves. Among n = 100, 90 discriminators and 10 ALLD, each
/// donor meeting one of the 99 others at random, per generation
///
///   discriminator: 2·(89/99)·b − c·(2·89/99 + (10/99)·(2 − p)),  ALLD: (90/99)·b·(2 − p),
///
/// a gap of 2(b − c)·89/99 − (c·10/99 + b·90/99)(2 − p), which for n → ∞ is b·p − 2c = 2(q·b − c).
/// With b = 1, c = 0.1 it changes sign at p* = 0.2396 (q·b = 1.2c; the finite population's
/// 89/99 and 10/99 move it from 1.0c). At p = 0.14 (q·b = 0.7c) the gap is −0.0915 and at p = 0.34
/// (q·b = 1.7c) it is +0.0923: the measured mean gap over 3,000 generations must lie within 4
/// standard errors of it (the standard error measured from the generations' gaps, about 0.008),
/// which puts each on its side of the threshold. Discriminators that ignored what they saw (a gap
/// of −0.22) or counted round 0 as informed too (+0.40 at p = 0.34) fail.
#[test]
fn image_scoring_discriminators_resist_alld_iff_qb_exceeds_c() {
    let (b, c, generations) = (1.0, 0.1, 3000);
    let derived =
        |p: f64| 2.0 * (b - c) * 89.0 / 99.0 - (c * 10.0 / 99.0 + b * 90.0 / 99.0) * (2.0 - p);
    let threshold = 2.0 - 2.0 * (b - c) * 89.0 / 99.0 / (c * 10.0 / 99.0 + b * 90.0 / 99.0);
    assert!((threshold - 0.2396).abs() < 1e-4 && derived(threshold).abs() < 1e-12);
    for (p, side) in [(0.14, -1.0), (0.34, 1.0)] {
        let mut sim = sim(&format!(
            "[scenario]\nname = \"x\"\nseed = 5\n[game.image_scoring]\nrounds = 2\nbenefit = {b}\n\
             cost = {c}\nobservation = {p}\n[[agents]]\ncount = 90\nstrategy = \"discriminator\"\n\
             params = {{ k = 0 }}\n[[agents]]\ncount = 10\nstrategy = \"alld\"\n"
        ));
        gap_is_derived_and_on_its_side(
            &mut sim,
            generations,
            derived(p),
            side,
            &format!("p = {p}"),
        );
    }
}

/// Plays `episodes` episodes of `sim` (90 discriminators, then 10 ALLD) and checks the mean
/// payoff gap (discriminator − ALLD) of an episode against `expected`: within 4 standard errors
/// (measured from the episodes' gaps), and `expected` on the side `side` of 0 by more than that.
fn gap_is_derived_and_on_its_side(
    sim: &mut Sim,
    episodes: usize,
    expected: f64,
    side: f64,
    case: &str,
) {
    let gaps: Vec<f64> = (0..episodes)
        .map(|_| {
            let [disc, alld] = mean_payoffs(sim, 1, [0..90, 90..100]);
            sim.reset(None);
            disc - alld
        })
        .collect();
    let g = episodes as f64;
    let mean = gaps.iter().sum::<f64>() / g;
    let variance = gaps.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (g - 1.0);
    let tolerance = 4.0 * (variance / g).sqrt();
    assert!(
        (mean - expected).abs() < tolerance,
        "{case}: gap {mean}, derived {expected} ± {tolerance}"
    );
    assert!(
        expected * side > tolerance,
        "{case}: the derived gap {expected} is clear of 0 by more than {tolerance}"
    );
}

/// Ohtsuki & Iwasa (2004, 2006): under public assessment with assessment error μ, discriminators
/// of the leading eight's L3–L6 resist ALLD iff b/c > 1/(1 − 2μ). Derived for simple standing
/// (L3): a discriminator's every act is assessed Good, so it is Good with probability 1 − μ after
/// the first round; an ALLD player is Good when it refused a Bad recipient (a Bad assessment of
/// a refusal to a Good one, flipped with μ), with probability μ·q + (1 − μ)(1 − q), q its
/// recipient's chance to be Good. In the infinite population (q = 1 − μ) a discriminator earns
/// (1 − μ)(b − c) a round and ALLD 2μ(1 − μ)b, a gap of (1 − μ)(b(1 − 2μ) − c): the published
/// threshold. For `d` discriminators and `a` ALLD, each donor meeting a uniform other of the
/// `n − 1`, the same recursion over the rounds from an all-Good start gives the expected gap of
/// a finite episode, which the game must match.
///
/// μ = 0.2 (threshold b/c = 5/3), c = 0.1, 90 discriminators and 10 ALLD, 50 rounds: at b = 0.15
/// the derived gap is −0.79 an episode, at b = 0.25 +1.21; the measured mean over 300 episodes
/// must lie within 4 standard errors of it (measured from the episodes' gaps, about 0.012), which
/// puts each on its side. The recursion's infinite limit crosses zero at the published threshold.
#[test]
fn leading_eight_discriminators_resist_alld_iff_b_over_c_exceeds_one_over_one_minus_two_mu() {
    let (mu, c, rounds) = (0.2, 0.1, 50);
    // The expected payoff gap (discriminator − ALLD) summed over `rounds` rounds.
    let derived = |b: f64, d: f64, a: f64, rounds: u32| {
        let n = d + a;
        let (mut good_d, mut good_a, mut gap) = (1.0, 1.0, 0.0);
        for _ in 0..rounds {
            let q_d = ((d - 1.0) * good_d + a * good_a) / (n - 1.0);
            let q_a = (d * good_d + (a - 1.0) * good_a) / (n - 1.0);
            gap += b * (d - 1.0) / (n - 1.0) * good_d - c * q_d - b * d / (n - 1.0) * good_a;
            (good_d, good_a) = (1.0 - mu, mu * q_a + (1.0 - mu) * (1.0 - q_a));
        }
        gap
    };
    // The infinite limit: the gap a round changes sign at b/c = 1/(1 − 2μ).
    let threshold = c / (1.0 - 2.0 * mu);
    for (b, side) in [(threshold * 0.99, -1.0), (threshold * 1.01, 1.0)] {
        let per_round = derived(b, 1e9, 1.0, 10_000) / 10_000.0;
        assert!(per_round * side > 0.0, "b = {b}: {per_round} a round");
    }
    for (b, side) in [(0.15, -1.0), (0.25, 1.0)] {
        let mut sim = sim(&format!(
            "[scenario]\nname = \"x\"\nseed = 8\n[game.norms]\nrounds = {rounds}\nnorm = \"l3\"\n\
             assessment = \"public\"\nassessment_error = {mu}\nbenefit = {b}\ncost = {c}\n\
             [[agents]]\ncount = 90\nstrategy = \"discriminator\"\n\
             [[agents]]\ncount = 10\nstrategy = \"alld\"\n"
        ));
        let expected = derived(b, 90.0, 10.0, rounds);
        gap_is_derived_and_on_its_side(&mut sim, 300, expected, side, &format!("b = {b}"));
    }
}
