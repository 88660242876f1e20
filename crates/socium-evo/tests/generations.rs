//! A generation plays its episodes and sums their payoffs; a pool of ONNX policies evolves like
//! the strategies it encodes.

use socium_core::{Sim, derive_seed};
use socium_evo::run_scenario;
use socium_scenario::Scenario;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// benches/moran_tft_alld.toml (5 TFT, 5 ALLD, 50 turns, every pair once a generation) playing
/// `generations` generations: as it is, one episode of all 45 matches at once, or `by_round`, 9
/// episodes of one round of the round robin each.
fn moran_text(generations: u32, by_round: bool) -> String {
    let text = std::fs::read_to_string(root().join("benches/moran_tft_alld.toml"))
        .unwrap()
        .replace(
            "generations = 1000",
            &format!("generations = {generations}"),
        );
    assert!(text.contains("matches = \"at_once\"\n") && text.contains("episodes = 1\n"));
    match by_round {
        true => text
            .replace("matches = \"at_once\"\n", "")
            .replace("episodes = 1\n", "episodes = 9\n"),
        false => text,
    }
}

/// The Moran benchmark by round (9 episodes a generation, one match a step: the observation a
/// policy of one match reads) with its tit for tat written as `tft`.
fn moran(tft: &str, generations: u32) -> Scenario {
    let text = moran_text(generations, true).replace("strategy = \"tft\"", tft);
    Scenario::parse(&text, &root().join("benches/moran_tft_alld.toml")).unwrap()
}

#[test]
fn a_generation_of_nine_episodes_plays_every_pair_once() {
    // Per 50-turn match (T = 5, R = 3, P = 1, S = 0): TFT–TFT 150 each; TFT–ALLD 49 and 54
    // (the defector wins the first turn, then both defect); ALLD–ALLD 50 each. Over every pair,
    // a TFT scores 4·150 + 5·49 = 845 and an ALLD 5·54 + 4·50 = 470: 657.5 on average.
    let run = run_scenario(&moran("strategy = \"tft\"", 3), 0, 7, None, &|| ()).unwrap();
    assert_eq!(run.generations[0].counts, vec![5, 5]);
    assert_eq!(run.generations[0].mean_payoff, 657.5);
    // One birth–death update a generation: a type gains or loses at most one individual.
    for pair in run.generations.windows(2) {
        assert!(pair[0].counts[0].abs_diff(pair[1].counts[0]) <= 1);
    }
    assert_eq!(
        run.generations[0].reputation, None,
        "repeated games have no reputation"
    );
}

#[test]
fn each_agents_payoff_of_the_matches_at_once_is_its_sum_over_the_nine_rounds() {
    // What selection reads: every agent's payoff (its fitness) from the benchmark's one episode
    // of all matches at once equals its payoffs summed over the 9 episodes by round, agent by
    // agent, for a mixed population whatever the seed.
    let payoffs = |by_round: bool, seed: u64| {
        let s = Scenario::parse(&moran_text(1, by_round), Path::new("moran.toml")).unwrap();
        let mut sim = s.sim().unwrap();
        sim.reset(Some(seed));
        let n = sim.agent_count();
        let actions = vec![0.0; n * sim.spaces().action.flat_dim()];
        let mut sums = vec![0.0; n];
        for episode in 0..s.evolution.as_ref().unwrap().episodes.get() {
            if episode > 0 {
                sim.reset(None);
            }
            while !sim.env().is_done() {
                sim.step(&actions).unwrap();
            }
            for (sum, p) in sums.iter_mut().zip(sim.env().episode_raw_rewards()) {
                *sum += p;
            }
        }
        sums
    };
    for seed in 0..4 {
        let at_once = payoffs(false, seed);
        assert_eq!(at_once, payoffs(true, seed), "seed {seed}");
        // TFT: 4 × 150 + 5 × 49; ALLD: 5 × 54 + 4 × 50.
        assert_eq!(at_once, [[845.0; 5], [470.0; 5]].concat());
    }
}

#[test]
fn one_episode_of_every_match_at_once_evolves_as_the_nine_rounds() {
    // The same generations, remembered or played, whether a generation is 9 rounds of the round
    // robin or one episode of all its matches at once (deterministic players: equal payoffs; the
    // cooperation rate is averaged differently, so equal up to rounding).
    for memoize in [true, false] {
        let history = |at_once: bool| {
            let text = moran_text(60, !at_once)
                .replace("[evolution]", &format!("[evolution]\nmemoize = {memoize}"));
            let s = Scenario::parse(&text, Path::new("moran.toml")).unwrap();
            run_scenario(&s, 1, 3, None, &|| ()).unwrap().generations
        };
        let (by_round, at_once) = (history(false), history(true));
        for (a, b) in at_once.iter().zip(&by_round) {
            assert_eq!((&a.counts, a.mean_payoff), (&b.counts, b.mean_payoff));
            // One rate over the round robin, or the mean of 9 equal-sized rounds' rates.
            let (ca, cb) = (a.cooperation.unwrap(), b.cooperation.unwrap());
            assert!((ca - cb).abs() < 1e-12, "memoize = {memoize}: {ca} vs {cb}");
        }
        assert_eq!(at_once.len(), by_round.len());
        assert!(
            by_round.windows(2).any(|g| g[0].counts != g[1].counts),
            "it evolved"
        );
    }
}

#[test]
fn remembered_populations_give_the_same_history_as_played_ones() {
    // Deterministic strategies, no noise, whole round robins: each distinct population is played
    // once and remembered; the history is that of playing every generation — on the complete
    // graph and on a ring lattice (where the Moran updates follow the graph).
    for graph in ["", "[graph.ring_lattice]\nk = 4\n"] {
        let played = |memoize: bool| {
            let text = moran_text(120, false).replace(
                "[evolution]",
                &format!("{graph}[evolution]\nmemoize = {memoize}"),
            );
            let s = Scenario::parse(&text, Path::new("moran.toml")).unwrap();
            run_scenario(&s, 1, 3, None, &|| ()).unwrap().generations
        };
        let remembered = played(true);
        assert_eq!(remembered, played(false), "graph {graph:?}");
        // The population moved: the memo served changing populations, not one.
        let counts: std::collections::BTreeSet<_> =
            remembered.iter().map(|g| g.counts.clone()).collect();
        assert!(counts.len() > 2, "{counts:?}");
    }
}

#[test]
fn a_pool_of_onnx_policies_evolves_exactly_like_the_strategies_they_encode() {
    // assets/policies/tft_linear.onnx is tit for tat as one linear layer: the evolving
    // population, generation by generation, is the same as with the scripted strategy.
    let onnx = moran("policy = \"../assets/policies/tft_linear.onnx\"", 60);
    let scripted = moran("strategy = \"tft\"", 60);
    for run in 0..3 {
        let a = run_scenario(&onnx, run, 11, None, &|| ()).unwrap();
        let b = run_scenario(&scripted, run, 11, None, &|| ()).unwrap();
        assert_eq!(a.labels, vec!["tft_linear.onnx", "alld"]);
        assert_eq!(a.generations, b.generations, "run {run}");
    }
}

/// The cultural donor game with 12 unconditional givers of `share = 0.5` whose share drifts
/// (sd 0.05) under truncation selection.
fn drifting_givers(generations: u32) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"drift\"\nseed = 3\n[game.donor_cultural]\n[[agents]]\n\
         strategy = \"fixed\"\nparams = {{ share = 0.5 }}\ncount = 12\n[evolution]\n\
         rule = {{ truncation = {{ survivors = 0.5 }} }}\ngenerations = {generations}\n\
         drift = {{ share = 0.05 }}\n"
    );
    Scenario::parse(&text, &root().join("drift.toml")).unwrap()
}

#[test]
fn drifting_parameters_stay_in_range_and_selection_acts_on_them() {
    // Giving unconditionally never pays back, so the fittest give least: the share falls.
    for run in 0..4 {
        let r = run_scenario(&drifting_givers(40), run, 5, None, &|| ()).unwrap();
        assert_eq!(r.parameters, vec!["mean[fixed(share=0.5).share]"]);
        let shares: Vec<f64> = r
            .generations
            .iter()
            .map(|g| g.parameters[0].unwrap())
            .collect();
        assert_eq!(shares[0], 0.5, "the founders' value");
        assert!(shares.iter().all(|s| (0.0..=1.0).contains(s)), "{shares:?}");
        // Measured: the mean share ends near 0.01 or below in these runs.
        assert!(*shares.last().unwrap() < 0.2, "run {run}: {shares:?}");
    }
}

#[test]
fn an_interrupted_run_with_drift_resumes_to_the_same_history() {
    let s = drifting_givers(12);
    let whole = run_scenario(&s, 1, 9, None, &|| ()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = socium_evo::RunCheckpoint::new(dir.path(), 1, 42);
    // Stop after generation 5 as a kill would (the checkpoint of generation 5 is written).
    let done = std::sync::atomic::AtomicUsize::new(0);
    let stop = || {
        if done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == 5 {
            panic!("interrupted");
        }
    };
    let interrupted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_scenario(&s, 1, 9, Some(&checkpoint), &stop)
    }));
    assert!(interrupted.is_err());
    assert_eq!(checkpoint.generation(), Some(5));
    let other_setup = socium_evo::RunCheckpoint::new(dir.path(), 1, 43);
    assert_eq!(other_setup.generation(), None);
    // Only the generations played now are counted (a progress bar's ETA divides by them).
    let played = std::sync::atomic::AtomicUsize::new(0);
    let count = || {
        played.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    let resumed = run_scenario(&s, 1, 9, Some(&checkpoint), &count).unwrap();
    assert_eq!(resumed.generations, whole.generations);
    assert_eq!(played.into_inner(), whole.generations.len() - 5);
}

#[test]
fn a_history_line_without_a_state_is_played_anew() {
    // The first generation's line was appended and its state never written (a full disk, or a
    // kill between the two writes): the run starts over with an empty history, and later
    // resumes read only its own lines (the stale one had shifted every generation after it).
    let s = drifting_givers(12);
    let whole = run_scenario(&s, 1, 9, None, &|| ()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = socium_evo::RunCheckpoint::new(dir.path(), 1, 42);
    let stale = serde_json::to_string(&whole.generations[3]).unwrap() + "\n";
    std::fs::write(dir.path().join("run-1.history.jsonl"), stale).unwrap();
    let paused = run_scenario(&s, 1, 9, Some(&checkpoint.clone().pausing_at(2)), &|| ());
    assert!(paused.is_err(), "paused at generation 2");
    let resumed = run_scenario(&s, 1, 9, Some(&checkpoint), &|| ()).unwrap();
    assert_eq!(resumed.generations, whole.generations);
}

#[test]
fn norm_tables_evolve_as_genomes() {
    // Judges holding their own norm (stern judging at first) among defectors, under private
    // assessment; each offspring's norm flips each of its 8 bits with probability 0.05.
    let text = |drift: f64| {
        format!(
            "[scenario]\nname = \"norms\"\nseed = 2\n[game.norms]\nrounds = 10\n\
             assessment = \"private\"\nobservation = 0.5\n[[agents]]\nlabel = \"judges\"\n\
             strategy = \"own_norm\"\ncount = 20\n[[agents]]\nstrategy = \"alld\"\ncount = 10\n\
             [evolution]\nrule = \"proportional\"\ngenerations = 30\ndrift = {{ norm = {drift} }}\n"
        )
    };
    let modes = |drift: f64| -> Vec<f64> {
        let s = Scenario::parse(&text(drift), Path::new("norms.toml")).unwrap();
        let run = run_scenario(&s, 0, 1, None, &|| ()).unwrap();
        assert_eq!(run.parameters, vec!["mode[judges.norm]"]);
        (run.generations.iter())
            .filter_map(|g| g.parameters[0])
            .collect()
    };
    // Without drift every judge keeps stern judging; with bits flipping half the time the tables
    // are new at every birth, and the most common one soon is not stern judging.
    assert!(modes(0.0).iter().all(|&m| m == 153.0));
    assert!(
        modes(0.5).iter().any(|&m| m != 153.0),
        "drift changed no table"
    );
    // (The rate of each bit's flips is `update.rs`'s `a_bit_table_drifts_by_flipping_bits`.)
    assert_eq!(
        modes(0.05)[0],
        153.0,
        "every judge starts with stern judging"
    );
    // A bit table's drift is a probability.
    let err = Scenario::parse(&text(2.0), Path::new("norms.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`norm` is a bit table, whose drift is the probability that each bit flips: expected a value in [0, 1], found 2"), "{err}");
}

/// The cultural donor game under truncation selection (half survive), two generations.
fn cultural(game: &str, agents: &str, evolution: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"selection\"\nseed = 1\n[game.donor_cultural]\n{game}\n{agents}\n\
         [evolution]\nrule = {{ truncation = {{ survivors = 0.5 }} }}\ngenerations = 2\n\
         {evolution}\n"
    );
    Scenario::parse(&text, &root().join("selection.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Two-sided binomial test of a fair coin: the probability of a split at least as uneven as
/// `heads` to `tails`.
fn fair_coin_p(heads: u64, tails: u64) -> f64 {
    let m = heads + tails;
    let choose = |k: u64| (0..k).fold(1.0, |c, i| c * (m - i) as f64 / (i + 1) as f64);
    let tail: f64 = (heads.max(tails)..=m).map(choose).sum::<f64>() / 2f64.powi(m as i32);
    (2.0 * tail).min(1.0)
}

#[test]
fn truncation_breaks_ties_at_random_not_by_the_order_of_the_groups() {
    // Two groups of free riders: every payoff is 0, all tie, and neither group may be favoured.
    // (Ids are handed out group by group; ranking ties by id kept "first" in 20 runs of 20.)
    let s = cultural(
        "",
        "[[agents]]\nlabel = \"first\"\nstrategy = \"alld\"\ncount = 6\n\
         [[agents]]\nlabel = \"second\"\nstrategy = \"alld\"\ncount = 6\n",
        "",
    );
    let (mut first, mut second) = (0, 0);
    for run in 0..100 {
        let r = run_scenario(&s, run, 3, None, &|| ()).unwrap();
        let after = &r.generations[1].counts;
        first += u64::from(after[0] > after[1]);
        second += u64::from(after[1] > after[0]);
    }
    // Runs where one group gained are a fair coin's tosses between the groups: a fair tie-break
    // gives a split this uneven or worse with probability p; p < 0.001 refuses it (all 100 to
    // "first", as ties by id give, has p ≈ 1.6e-30).
    let p = fair_coin_p(first, second);
    assert!(p > 0.001, "first {first}, second {second}: p = {p}");
}

#[test]
fn truncation_ranks_a_net_loser_below_an_agent_that_gained_nothing() {
    // Two rounds, one game: the giver donates once, half its 10 units (payoff −5), to one free
    // rider (+10); the other ten free riders gain nothing. Six survive: never the giver, even
    // listed first (a floor at 0 tied it with the free riders at 0, and ties went by id).
    let s = cultural(
        "rounds = 2\ngames = 1",
        "[[agents]]\nlabel = \"giver\"\nstrategy = \"fixed\"\n\
         [[agents]]\nlabel = \"free rider\"\nstrategy = \"alld\"\ncount = 11\n",
        "",
    );
    for run in 0..20 {
        let r = run_scenario(&s, run, 4, None, &|| ()).unwrap();
        assert_eq!(r.generations[0].mean_payoff, 5.0 / 12.0, "run {run}");
        assert_eq!(r.generations[1].counts, vec![0, 12], "run {run}");
    }
}

#[test]
fn the_notebooks_fitness_counts_the_last_game_alone() {
    // Twelve unconditional givers, each its own type, on the notebook's schedule. In the second
    // game half A receives in the last round (cell 14 `donorGame`, the reversed rounds): each A
    // ends with 30,720 units and each B with none. Over both games every agent nets the same
    // (half B ended the first game with everything), so only the last game tells them apart.
    // The notebook ranks by twice the resources after game 2; the last game's payoff is those
    // resources less the 10 every agent started it with, so it ranks the same.
    let agents: String = (0..12)
        .map(|i| format!("[[agents]]\nlabel = \"a{i}\"\nstrategy = \"allc\"\n"))
        .collect();
    let game = "schedule = \"notebook\"";
    let last = cultural(game, &agents, "fitness_games = \"last\"");
    let all = cultural(game, &agents, "");
    let mut b_survived = false;
    for run in 0..10 {
        // Replay the first generation's episode (seeded as `run_scenario` seeds it) to see who
        // was in half A: round 0's donors.
        let mut config = last.config.clone();
        config.seed = derive_seed(derive_seed(6, run), 0);
        let mut sim = Sim::new(&*last.game, config).unwrap();
        let in_a: Vec<bool> = sim.env().acting().to_vec();
        let actions = vec![0.0; 12];
        while !sim.env().is_done() {
            sim.step(&actions).unwrap();
        }
        let payoffs = sim.env().episode_raw_rewards();
        let dims = payoffs.len() / 12;
        assert!(
            (0..12).all(|a| payoffs[a * dims] == payoffs[0]),
            "{payoffs:?}"
        );

        let survivors = |s: &Scenario| {
            let r = run_scenario(s, run, 6, None, &|| ()).unwrap();
            r.generations[1]
                .counts
                .iter()
                .map(|&c| c > 0)
                .collect::<Vec<bool>>()
        };
        // Under the last game's fitness exactly half A survives (six types; the newcomers copy
        // them); under both games' the ranks tie and survivors are drawn at random.
        assert_eq!(survivors(&last), in_a, "run {run}");
        b_survived |= survivors(&all).iter().zip(&in_a).any(|(&s, &a)| s && !a);
    }
    assert!(
        b_survived,
        "both games' fitness kept only half A in ten runs"
    );
}

#[test]
fn a_mutant_between_types_starts_from_the_other_types_founder_values() {
    // Two types of gtft with generosity 0.1 and 0.9, tracked with a drift of 0 (so no offspring
    // moves it): mutation makes individuals of one type from parents of the other, and each
    // starts from its new type's founder value, so each type's mean stays at its own founder's.
    // Were a mutant to keep its parent's value, the means would mix.
    let text = "[scenario]\nname = \"m\"\nseed = 3\n[game.repeated]\nturns = 5\n\
                [[agents]]\nlabel = \"low\"\nstrategy = \"gtft\"\nparams = { generosity = 0.1 }\n\
                count = 6\n[[agents]]\nlabel = \"high\"\nstrategy = \"gtft\"\n\
                params = { generosity = 0.9 }\ncount = 6\n[evolution]\nrule = \"proportional\"\n\
                generations = 40\nmutation = 0.3\ndrift = { generosity = 0.0 }\n";
    let s = Scenario::parse(text, Path::new("m.toml")).unwrap();
    let run = run_scenario(&s, 0, 3, None, &|| ()).unwrap();
    assert_eq!(
        run.parameters,
        ["mean[low.generosity]", "mean[high.generosity]"]
    );
    let changed = run
        .generations
        .windows(2)
        .filter(|w| w[0].counts != w[1].counts)
        .count();
    assert!(changed > 10, "the types' counts moved {changed} times");
    for (g, generation) in run.generations.iter().enumerate() {
        for (value, founder) in generation.parameters.iter().zip([0.1, 0.9]) {
            if let Some(v) = value {
                assert!((v - founder).abs() < 1e-12, "generation {g}: {value:?}");
            }
        }
    }
}

/// A generation's mean payoff with `k` TFT among 10 players, every pair playing one 50-turn match
/// with payoffs T = 5, R = `r`, P = 1, S = 0: TFT–TFT 50R each; TFT–ALLD S + 49P for the TFT and
/// T + 49P for the ALLD; ALLD–ALLD 50P each.
fn mean_payoff(k: f64, r: f64) -> f64 {
    let m = 10.0 - k;
    let tft_pairs = k * (k - 1.0) / 2.0 * 2.0 * 50.0 * r;
    let mixed = k * m * (49.0 + 5.0 + 49.0);
    let alld_pairs = m * (m - 1.0) / 2.0 * 2.0 * 50.0;
    (tft_pairs + mixed + alld_pairs) / 10.0
}

#[test]
fn socium_evolve_applies_a_change_from_its_generation_on() {
    // R = 3 until generation 4, then 4: the generations before are the unchanged run's, byte for
    // byte; from 4 on each generation's mean payoff is the closed form's with the new R, for the
    // counts it started with.
    let with = |timeline: &str| {
        let text = moran_text(8, false) + timeline;
        Scenario::parse(&text, Path::new("moran.toml")).unwrap()
    };
    let plain = run_scenario(&with(""), 0, 7, None, &|| ()).unwrap();
    let changed = run_scenario(
        &with(
            "\n[[timeline]]\ngeneration = 4\n\
             set = { \"game.repeated.payoffs\" = { t = 5, r = 4, p = 1, s = 0 } }\n",
        ),
        0,
        7,
        None,
        &|| (),
    )
    .unwrap();
    assert_eq!(plain.generations[..4], changed.generations[..4]);
    assert_eq!(plain.generations[4].counts, changed.generations[4].counts);
    for (g, generation) in changed.generations.iter().enumerate() {
        let r = if g < 4 { 3.0 } else { 4.0 };
        let k = generation.counts[0] as f64;
        assert_eq!(generation.mean_payoff, mean_payoff(k, r), "generation {g}");
    }
}

#[test]
fn socium_evolve_applies_a_change_of_a_groups_parameters_from_its_generation_on() {
    // Generous tit for tat with generosity 0 plays as TFT until generation 4, where the timeline
    // makes it forgive every defection: against ALLD it then cooperates all 50 turns (S = 0 to
    // the forgiver, T = 5 to the defector each turn). Each generation's mean payoff is the closed
    // form's for the strategy it played (the variants of an undrifting group had carried the
    // founders' parameters past every change).
    let text = |timeline: &str| {
        let text = moran_text(8, false).replace(
            "strategy = \"tft\"",
            "strategy = \"gtft\"\nlabel = \"gtft\"\nparams = { generosity = 0.0 }",
        ) + timeline;
        Scenario::parse(&text, Path::new("moran.toml")).unwrap()
    };
    let change = "\n[[timeline]]\ngeneration = 4\n\
                  set = { \"agents[0].params.generosity\" = 1.0 }\n";
    let plain = run_scenario(&text(""), 0, 7, None, &|| ()).unwrap();
    let changed = run_scenario(&text(change), 0, 7, None, &|| ()).unwrap();
    assert_eq!(plain.generations[..4], changed.generations[..4]);
    for (g, generation) in changed.generations.iter().enumerate() {
        let (k, m) = (generation.counts[0] as f64, generation.counts[1] as f64);
        let expected = match g < 4 {
            true => mean_payoff(k, 3.0),
            // Forgivers among themselves 50 R each, against ALLD 0 and 250, ALLD among
            // themselves 50 P each.
            false => (k * (k - 1.0) * 150.0 + k * m * 250.0 + m * (m - 1.0) * 50.0) / 10.0,
        };
        assert_eq!(generation.mean_payoff, expected, "generation {g}");
    }
}

#[test]
fn fermi_imitation_depends_only_on_payoff_differences() {
    // Pairwise comparison imitates with probability 1 / (1 + e^(−β(π_j − π_i))): shifting every
    // payoff by −10 (all negative) changes no draw, so the runs are the same generation by
    // generation. Flooring negative fitness at 0 would make the shifted run neutral drift.
    let run = |payoffs: &str| {
        let text = format!(
            "[scenario]\nname = \"f\"\nseed = 2\n[game.repeated]\nturns = 10\n\
             payoffs = {payoffs}\n[[agents]]\nstrategy = \"tft\"\ncount = 6\n[[agents]]\n\
             strategy = \"alld\"\ncount = 6\n[evolution]\n\
             rule = {{ fermi = {{ beta = 0.05, updates = 12 }} }}\nepisodes = 11\ngenerations = 30\n"
        );
        let s = Scenario::parse(&text, Path::new("f.toml")).unwrap();
        run_scenario(&s, 0, 2, None, &|| ()).unwrap().generations
    };
    let plain = run("{ t = 5, r = 3, p = 1, s = 0 }");
    let shifted = run("{ t = -5, r = -7, p = -9, s = -10 }");
    let counts =
        |g: &[socium_evo::Generation]| g.iter().map(|g| g.counts.clone()).collect::<Vec<_>>();
    assert_eq!(counts(&plain), counts(&shifted));
    assert!(
        plain.windows(2).any(|w| w[0].counts != w[1].counts),
        "selection moved the counts"
    );
}

#[test]
fn exponential_fitness_selects_by_payoff_where_exp_would_overflow() {
    // TFT scores 845 a generation and ALLD 470 against a half-and-half population (above):
    // exp(w·π) at w = 1 overflows (from π ≈ 710). Moran birth–death in proportion to fitness
    // then picks a TFT parent all but surely (odds e^375 to 1 against each ALLD); an infinite
    // fitness had drawn the last individual, an ALLD, every time. Fermi compares payoffs, and
    // ran into inf − inf = NaN.
    let exponential = |rule: &str| {
        let text = moran_text(30, false).replace(
            "rule = { moran_birth_death = { updates = 1 } }",
            &format!("rule = {rule}\nfitness = {{ exponential = {{ w = 1.0 }} }}"),
        );
        assert!(text.contains("exponential"));
        Scenario::parse(&text, Path::new("moran.toml")).unwrap()
    };
    let moran = exponential("{ moran_birth_death = { updates = 1 } }");
    for run in 0..3 {
        let r = run_scenario(&moran, run, 7, None, &|| ()).unwrap();
        let tft: Vec<usize> = r.generations.iter().map(|g| g.counts[0]).collect();
        assert!(tft.windows(2).all(|w| w[1] >= w[0]), "run {run}: {tft:?}");
        assert!(tft.last() > tft.first(), "run {run}: {tft:?}");
    }
    let fermi = exponential("{ fermi = { beta = 1.0, updates = 1 } }");
    run_scenario(&fermi, 0, 7, None, &|| ()).unwrap();
}
