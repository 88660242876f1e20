//! Rules of the donor family that the docs promise, each checked on a run whose outcome is
//! derived here: the repeated game's noise, continuation and generosity (binomial or geometric
//! bounds, stated with their standard errors) and the moves allowed in a match that has ended,
//! image scoring's execution error and clamp, the
//! norms' `good_fraction`, the cultural game without a trace.

use socium::scenario::{RunSummary, Scenario, run};
use std::path::Path;

/// Runs `text` (after a `[scenario]` header naming `episodes`) with a transcript: the summary
/// and the transcript's `made` lines as JSON.
fn played(episodes: u64, text: &str) -> (RunSummary, Vec<serde_json::Value>) {
    let text = format!(
        "[scenario]\nname = \"x\"\nepisodes = {episodes}\nseed = 7\n{text}\n[output]\ntranscript = true\n"
    );
    let s = Scenario::parse(&text, Path::new("rules.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = run(&s, dir.path(), |_| {}).unwrap();
    let transcript = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
    let made = transcript
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["act"].is_object())
        .collect();
    (summary, made)
}

/// Each player's executed moves, in turn order: `true` for cooperate.
fn moves(made: &[serde_json::Value], speaker: u64) -> Vec<bool> {
    made.iter()
        .filter(|l| l["speaker"] == speaker)
        .map(|l| l["act"]["kind"] == "cooperate")
        .collect()
}

/// Asserts `got` is within 4.5 standard errors `sd` of `want`: a rule that holds fails with
/// probability below 10⁻⁵; each test says how far the wrong rule it guards against lands.
fn near(what: &str, got: f64, want: f64, sd: f64) {
    assert!(
        (got - want).abs() <= 4.5 * sd,
        "{what}: {got}, expected {want} ± {}",
        4.5 * sd
    );
}

#[test]
fn noise_flips_executed_moves_and_both_players_see_the_flip() {
    // tft against allc for 4,000 turns with noise 0.1. allc's executed moves are defections
    // with probability 0.1. tft copies what allc executed last turn, then its own move may flip:
    // tft's move equals allc's previous executed move with probability 0.9. Had tft seen allc's
    // intended move (always cooperate), the two would agree with probability 0.9·0.9 + 0.1·0.1
    // = 0.82, 17 standard errors away. Standard errors: sqrt(0.09 / 4000) ≈ 0.0047.
    let turns = 4000;
    let (_, made) = played(
        1,
        &format!(
            "[game.repeated]\nturns = {turns}\nnoise = 0.1\n[[agents]]\nstrategy = \"allc\"\n\
             [[agents]]\nstrategy = \"tft\"\n"
        ),
    );
    let (allc, tft) = (moves(&made, 0), moves(&made, 1));
    assert_eq!((allc.len(), tft.len()), (turns, turns));
    let sd = (0.09 / turns as f64).sqrt();
    let defected = allc.iter().filter(|&&c| !c).count() as f64 / turns as f64;
    near("allc's flipped moves", defected, 0.1, sd);
    let copied = (1..turns).filter(|&t| tft[t] == allc[t - 1]).count() as f64 / (turns - 1) as f64;
    near("tft copying allc's executed move", copied, 0.9, sd);
}

#[test]
fn continuation_ends_a_match_after_each_turn_with_probability_one_minus_w() {
    // w = 0.8, cap 10,000: a match lasts a geometric number of turns, mean 1 / (1 − w) = 5,
    // standard deviation sqrt(w) / (1 − w) ≈ 4.47; over 2,000 matches the mean's standard
    // error is 0.1 (an end after each turn with probability w instead would give 1.25, 37 away).
    // Two players: an episode is one match.
    let episodes = 2000;
    let (_, made) = played(
        episodes,
        "[game.repeated]\nturns = 10000\ncontinuation = 0.8\n[[agents]]\nstrategy = \"allc\"\n\
         count = 2\n",
    );
    let turns = made.iter().filter(|l| l["speaker"] == 0).count() as f64;
    let sd = 0.8f64.sqrt() / 0.2 / (episodes as f64).sqrt();
    near("mean match length", turns / episodes as f64, 5.0, sd);
}

#[test]
fn generous_tit_for_tat_forgives_a_defection_with_its_generosity() {
    // gtft (generosity 0.3) against alld: after the first turn it answers every defection,
    // cooperating with probability 0.3; over 3,999 answers the standard error is
    // sqrt(0.21 / 3999) ≈ 0.0072.
    let turns = 4000;
    let (_, made) = played(
        1,
        &format!(
            "[game.repeated]\nturns = {turns}\n[[agents]]\nstrategy = \"alld\"\n[[agents]]\n\
             strategy = \"gtft\"\nparams = {{ generosity = 0.3 }}\n"
        ),
    );
    let gtft = moves(&made, 1);
    assert!(gtft[0], "cooperates first");
    let forgave = gtft[1..].iter().filter(|&&c| c).count() as f64 / (turns - 1) as f64;
    near(
        "gtft's forgiveness",
        forgave,
        0.3,
        (0.21 / (turns - 1) as f64).sqrt(),
    );
}

#[test]
fn image_scores_are_clamped_at_five_and_execution_errors_fail_help() {
    // Four allc players, 20 rounds, everyone sees every donation: each round every image rises
    // by 1 up to the clamp, so the round means are 1, 2, 3, 4, then 5 for 16 rounds: the
    // episode's mean_image is (10 + 80) / 20 = 4.5 (unclamped it would be 10.5).
    let game = |error: f64| {
        format!(
            "[game.image_scoring]\nrounds = 20\nexecution_error = {error}\n[[agents]]\n\
             strategy = \"allc\"\ncount = 4\n"
        )
    };
    let (summary, _) = played(2, &game(0.0));
    assert_eq!(summary.metrics["mean_image"], 4.5);
    assert_eq!(summary.metrics["cooperation_rate"], 1.0);
    // With execution error 0.2, a help fails (and counts as a defection) with probability 0.2:
    // over 50 episodes × 20 rounds × 4 donations, the standard error of the rate is
    // sqrt(0.16 / 4000) ≈ 0.0063.
    let (summary, _) = played(50, &game(0.2));
    near(
        "cooperation with execution errors",
        summary.metrics["cooperation_rate"],
        0.8,
        (0.16f64 / 4000.0).sqrt(),
    );
}

#[test]
fn good_fraction_is_the_share_of_good_views() {
    // Everyone starts Good. Defectors under stern judging (D against Good is Bad, D against Bad
    // is Good) turn all Bad, then all Good, each round: 0, 1, 0, 1, … over 20 rounds, a mean of
    // 0.5; under image scoring every defection is Bad: 0 throughout; cooperators stay Good: 1.
    for (norm, strategy, fraction) in [
        ("stern_judging", "alld", 0.5),
        ("image_scoring", "alld", 0.0),
        ("stern_judging", "allc", 1.0),
    ] {
        let (summary, _) = played(
            2,
            &format!(
                "[game.norms]\nrounds = 20\nnorm = \"{norm}\"\n[[agents]]\n\
                 strategy = \"{strategy}\"\ncount = 4\n"
            ),
        );
        assert_eq!(
            summary.metrics["good_fraction"], fraction,
            "{norm}, {strategy}"
        );
    }
}

#[test]
fn cultural_donors_on_a_ring_meet_a_neighbour_across_the_halves_or_sit_out() {
    // Six agents on a ring (each tied to the next and the previous), the paper's schedule: half
    // A donates at even rounds and half B at odd ones; each donor gives to a neighbour in the
    // other half, and a donor with none sits out (says nothing all game). The halves are read off
    // the play: the donors of even rounds and of odd rounds.
    let (_, made) = played(
        40,
        "[game.donor_cultural]\nrounds = 6\ngames = 1\n[graph]\nring_lattice = { k = 2 }\n\
         [[agents]]\nstrategy = \"allc\"\ncount = 6\n",
    );
    let ring = |a: u64, b: u64| (a + 1) % 6 == b || (b + 1) % 6 == a;
    let (mut donations, mut sat_out) = (0, 0);
    for episode in 0..40 {
        let of_episode: Vec<&serde_json::Value> =
            made.iter().filter(|l| l["episode"] == episode).collect();
        let mut half = [None; 6];
        for l in &of_episode {
            let donor = l["speaker"].as_u64().unwrap() as usize;
            let parity = l["step"].as_u64().unwrap() % 2;
            assert!(half[donor].is_none_or(|h| h == parity), "{l}");
            half[donor] = Some(parity);
        }
        for l in &of_episode {
            let (donor, recipient) = (
                l["speaker"].as_u64().unwrap(),
                l["act"]["target"].as_u64().unwrap(),
            );
            assert!(ring(donor, recipient), "{l}");
            assert_ne!(half[recipient as usize], half[donor as usize], "{l}");
            donations += 1;
        }
        // A silent agent has no neighbour in the other half: both its neighbours donate with one
        // parity (or are silent too).
        for a in (0..6).filter(|&a| half[a].is_none()) {
            let sides: Vec<u64> = [(a + 1) % 6, (a + 5) % 6]
                .iter()
                .filter_map(|&b| half[b])
                .collect();
            assert!(
                sides.windows(2).all(|w| w[0] == w[1]),
                "episode {episode}: {half:?}"
            );
            sat_out += 1;
        }
    }
    assert!(
        donations > 0 && sat_out > 0,
        "{donations} donations, {sat_out} sat out"
    );
}

#[test]
fn cultural_donors_without_a_trace_give_their_initial_share_every_round() {
    // `trace_depth = 0`: no donor sees what its recipient gave, so a reciprocal donor gives its
    // `initial` share (0.5 by default) of its resources every round (it panicked, reading a
    // trace level the observation does not have).
    let (_, made) = played(
        2,
        "[game.donor_cultural]\ntrace_depth = 0\nrounds = 4\ngames = 1\n\
         [[agents]]\nstrategy = \"reciprocal\"\ncount = 4\n",
    );
    assert_eq!(made.len(), 2 * 4 * 2, "2 episodes × 4 rounds × 2 donors");
    for line in &made {
        let text = line["text"].as_str().unwrap();
        assert!(text.contains("(50%)"), "{text}");
    }
}

#[test]
fn a_match_that_ended_while_its_players_play_on_allows_only_the_ignored_move() {
    // Four allc players, every pair at once, each match ending after a turn with probability 0.5:
    // before every step, an acting agent may cooperate in a match exactly where it makes a move
    // in it at that step (the match is still being played), and may always play the move 0.
    let text = "[scenario]\nname = \"x\"\nseed = 3\n[game.repeated]\nturns = 20\n\
                continuation = 0.5\nmatches = \"at_once\"\n[[agents]]\nstrategy = \"allc\"\n\
                count = 4\n";
    let mut sim = Scenario::parse(text, Path::new("rules.toml"))
        .unwrap()
        .sim()
        .unwrap();
    let (n, slots) = (4, 3);
    let actions = vec![0.0; n * slots];
    let mut ended_in_play = 0;
    while !sim.env().is_done() {
        let (masks, acting) = (
            sim.env().action_masks().to_vec(),
            sim.env().acting().to_vec(),
        );
        sim.step(&actions).unwrap();
        let moved: Vec<(u32, u32)> = (sim.env().utterances().iter())
            .map(|u| match u.audience {
                socium::core::Audience::Agent(b) => (u.speaker.0, b.0),
                _ => panic!("a move is heard by its partner"),
            })
            .collect();
        for a in 0..n {
            // Match `k` of agent `a` is against the `k`-th other agent in id order.
            let partners = (0..n).filter(|&b| b != a);
            for (k, b) in partners.enumerate() {
                let (defect, cooperate) = (
                    masks[a * 2 * slots + 2 * k],
                    masks[a * 2 * slots + 2 * k + 1],
                );
                let plays = moved.contains(&(a as u32, b as u32));
                assert_eq!(defect, acting[a] as u8, "agent {a}, match {k}");
                assert_eq!(cooperate == 1, plays, "agent {a}, match {k}");
                ended_in_play += (acting[a] && !plays) as usize;
            }
        }
    }
    assert!(
        ended_in_play > 0,
        "no match ended while its players played on"
    );
}
