//! Partner choice and punishment (Dasgupta & Musolesi 2023, arXiv 2301.08278), rule by rule:
//! the dilemma's payoffs, reputation's published increments (+1 C, −1 D, +2 a just punishment,
//! −3 an unjust one) on scripted sequences of acts, third-party punishment, choosing by
//! reputation, and no cooperation among defectors; bad settings refused at their key.

use socium::core::Sim;
use socium::games::donor::punishment::obs;
use socium::scenario::Scenario;
use std::path::Path;

fn sim(game: &str, agents: &str) -> Sim {
    let text = format!("[scenario]\nname = \"p\"\nseed = 2\n[game.punishment]\n{game}\n{agents}");
    Scenario::parse(&text, Path::new("p.toml"))
        .unwrap()
        .sim()
        .unwrap()
}

fn externals(n: usize) -> String {
    format!("[[agents]]\ncontroller = \"external\"\ncount = {n}\n")
}

/// Steps with every agent taking `acts[a]`; returns the step's raw rewards `[agents × dims]`.
fn step(sim: &mut Sim, acts: &[f32]) -> Vec<f64> {
    sim.step(acts).unwrap();
    sim.env().raw_rewards().to_vec()
}

/// Dimensions: payoff, reputation, punishment_given, punishment_received.
const D: usize = 4;

#[test]
fn payoffs_follow_the_matrix_and_reputation_the_moves() {
    // (mine, theirs) -> my payoff with the default (T, R, P, S) = (4, 3, 1, 0).
    for (a, b, pa, pb) in [
        (1.0, 1.0, 3.0, 3.0),
        (1.0, 0.0, 0.0, 4.0),
        (0.0, 1.0, 4.0, 0.0),
        (0.0, 0.0, 1.0, 1.0),
    ] {
        let mut s = sim("rounds = 1", &externals(2));
        step(&mut s, &[0.0, 0.0]); // choose: the only neighbour
        let raw = step(&mut s, &[a, b]);
        assert_eq!((raw[0], raw[D]), (pa, pb), "moves {a} {b}");
        let rep = |m: f32| if m == 1.0 { 1.0 } else { -1.0 };
        assert_eq!((raw[1], raw[D + 1]), (rep(a), rep(b)));
        let raw = step(&mut s, &[0.0, 0.0]); // nobody punishes
        assert!(raw.iter().all(|&v| v == 0.0));
        assert!(s.env().is_done());
    }
}

#[test]
fn a_just_and_an_unjust_punishment_move_reputation_by_plus_two_and_minus_three() {
    let mut s = sim("rounds = 2", &externals(2));
    step(&mut s, &[0.0, 0.0]);
    step(&mut s, &[1.0, 0.0]); // 0 cooperates, 1 defects
    // Both punish: 0's is just (1 defected), 1's unjust (0 cooperated).
    let raw = step(&mut s, &[1.0, 1.0]);
    let (cost, loss) = (1.0, 3.0);
    assert_eq!(&raw[..D], &[-cost - loss, 2.0, 1.0, 1.0]);
    assert_eq!(&raw[D..], &[-cost - loss, -3.0, 1.0, 1.0]);
    // Over the episode so far: 0 is at +1 + 2 = 3, 1 at −1 − 3 = −4; the next round's
    // observation shows them squashed (tanh(r / 4)).
    let row = |a: usize| {
        let d = s.spaces().observation.flat_dim();
        s.env().observations()[a * d..(a + 1) * d].to_vec()
    };
    assert!((f64::from(row(0)[obs::OWN_REPUTATION]) - (3.0f64 / 4.0).tanh()).abs() < 1e-6);
    assert!((f64::from(row(1)[obs::OWN_REPUTATION]) - (-1.0f64).tanh()).abs() < 1e-6);
    // A punishment of a defector who defected only in an earlier round is unjust now.
    step(&mut s, &[0.0, 0.0]);
    step(&mut s, &[1.0, 1.0]);
    let raw = step(&mut s, &[1.0, 0.0]);
    assert_eq!(raw[1], -3.0, "1 cooperated this round");
    let totals = s.env().episode_raw_rewards();
    assert_eq!((totals[1], totals[D + 1]), (3.0 + 1.0 - 3.0, -4.0 + 1.0));
}

#[test]
fn an_observer_punishes_either_player_of_the_pair_it_watched() {
    let mut s = sim("rounds = 1\nthird_party = \"random\"", &externals(3));
    step(&mut s, &[0.0, 0.0, 0.0]);
    let d = s.spaces().observation.flat_dim();
    let has_partner = |s: &Sim, a: usize| s.env().observations()[a * d + obs::HAS_PARTNER] == 1.0;
    let observer = (0..3).find(|&a| !has_partner(&s, a)).unwrap();
    let players: Vec<usize> = (0..3).filter(|&a| a != observer).collect();
    // The lower-id player defects, the other cooperates.
    let mut acts = [1.0; 3];
    acts[players[0]] = 0.0;
    step(&mut s, &acts);
    let row = &s.env().observations()[observer * d..(observer + 1) * d];
    assert_eq!(
        (row[obs::OBSERVER], row[obs::A_MOVE], row[obs::B_MOVE]),
        (1.0, 0.0, 1.0)
    );
    assert_eq!(
        s.env().action_masks()[observer * 3 + 2],
        1,
        "the observer may punish B"
    );
    assert_eq!(
        s.env().action_masks()[players[0] * 3 + 2],
        0,
        "a player may not"
    );
    let mut acts = [0.0; 3];
    acts[observer] = 1.0; // punish A, the defector: just
    let raw = step(&mut s, &acts);
    assert_eq!(
        &raw[observer * D..(observer + 1) * D],
        &[-1.0, 2.0, 1.0, 0.0]
    );
    assert_eq!(
        &raw[players[0] * D..(players[0] + 1) * D],
        &[-3.0, 0.0, 0.0, 1.0]
    );
}

/// `third_party = "neighbours"`: each pair's observer is an agent in no pair that is a graph
/// neighbour of one of the two players (on a ring of 12, where most agents are far from any
/// given pair); `"random"` draws observers from anywhere, and some are no player's neighbour.
#[test]
fn a_neighbour_observer_is_tied_to_a_player_of_the_pair_it_watched() {
    let far = |third_party: &str| {
        let mut far = 0;
        let mut watched = 0;
        for seed in 0..20 {
            let text = format!(
                "[scenario]\nname = \"p\"\nseed = {seed}\n[game.punishment]\nrounds = 1\n\
                 third_party = \"{third_party}\"\n[graph]\nwatts_strogatz = {{ k = 2, p = 0.0 }}\n{}",
                externals(12)
            );
            let mut s = Scenario::parse(&text, Path::new("p.toml"))
                .unwrap()
                .sim()
                .unwrap();
            step(&mut s, &[0.0; 12]);
            // The pairs, from the choices (each heard by the one chosen).
            let mut partner = [None; 12];
            for u in s
                .env()
                .utterances()
                .iter()
                .filter(|u| u.act.kind == "choose")
            {
                let (a, b) = (u.speaker.index(), u.act.target.unwrap().index());
                (partner[a], partner[b]) = (Some(b), Some(a));
            }
            step(&mut s, &[1.0; 12]);
            let d = s.spaces().observation.flat_dim();
            let observers: Vec<usize> = (0..12)
                .filter(|&a| s.env().observations()[a * d + obs::OBSERVER] == 1.0)
                .collect();
            // Each observer punishes player A of the pair it watched, which names the pair.
            let mut acts = [0.0; 12];
            for &o in &observers {
                acts[o] = 1.0;
            }
            step(&mut s, &acts);
            for u in s
                .env()
                .utterances()
                .iter()
                .filter(|u| u.act.kind == "punish")
            {
                let o = u.speaker.index();
                assert!(partner[o].is_none(), "seed {seed}: observer {o} plays");
                let a = u.act.target.unwrap();
                let b = partner[a.index()].expect("a player");
                let tied = |p: usize| {
                    (s.env().graph().neighbours(u.speaker).iter()).any(|n| n.index() == p)
                };
                far += usize::from(!tied(a.index()) && !tied(b));
                watched += 1;
            }
        }
        assert!(watched > 20, "{third_party}: {watched} pairs watched");
        far
    };
    assert_eq!(far("neighbours"), 0);
    assert!(far("random") > 0);
}

#[test]
fn choosers_pick_the_most_reputable_neighbour() {
    // Four agents: 0 and 1 cooperate in round 1 (reputation +1), 2 and 3 defect (−1). In round
    // 2 the first to choose, by reputation, takes a cooperator, whoever chooses first.
    for seed in 0..8 {
        let text = format!(
            "[scenario]\nname = \"p\"\nseed = {seed}\n[game.punishment]\nrounds = 2\n{}",
            externals(4)
        );
        let mut s = Scenario::parse(&text, Path::new("p.toml"))
            .unwrap()
            .sim()
            .unwrap();
        step(&mut s, &[0.0; 4]);
        let d = s.spaces().observation.flat_dim();
        // Round 1: make the two pairs' members cooperate (0, 1) or defect (2, 3).
        let acts: Vec<f32> = (0..4).map(|a| if a < 2 { 1.0 } else { 0.0 }).collect();
        step(&mut s, &acts);
        step(&mut s, &[0.0; 4]);
        let rep: Vec<f32> = (0..4)
            .map(|a| s.env().observations()[a * d + obs::OWN_REPUTATION])
            .collect();
        assert!(rep[0] > 0.0 && rep[3] < 0.0, "{rep:?}");
        // Round 2: everyone chooses by reputation, so the first chooser, whoever it is, takes
        // a cooperator (the other one, if it is a cooperator itself).
        step(&mut s, &[1.0; 4]);
        let first = &s.env().utterances()[0];
        let target = first.act.target.unwrap().index();
        assert!(
            target < 2,
            "seed {seed}: the first chooser took agent {target}"
        );
    }
}

#[test]
fn defectors_alone_never_cooperate() {
    let text = "[scenario]\nname = \"p\"\nepisodes = 3\n[game.punishment]\nrounds = 10\n\
                [[agents]]\nstrategy = \"alld\"\ncount = 8\n";
    let s = Scenario::parse(text, Path::new("p.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = socium::scenario::run(&s, dir.path(), |_| {}).unwrap();
    assert_eq!(summary.metrics["cooperation_rate"], 0.0);
    // Every round each defector plays once against a defector: P = 1 a round.
    assert_eq!(summary.groups[0].mean_rewards["payoff"], 10.0);
    assert_eq!(summary.groups[0].mean_rewards["reputation"], -10.0);
}

#[test]
fn bad_punishment_settings_are_refused_at_their_key() {
    for (setting, expected) in [
        ("third_party = \"everyone\"", "unknown variant `everyone`"),
        (
            "punishment_cost = -1",
            "`game.punishment.punishment_cost`: expected a finite number ≥ 0",
        ),
        (
            "rounds = 0",
            "`game.punishment.rounds`: expected a whole number ≥ 1",
        ),
    ] {
        let text = format!(
            "[scenario]\nname = \"p\"\n[game.punishment]\n{setting}\n{}",
            externals(2)
        );
        let err = Scenario::parse(&text, Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{setting}: {err}");
    }
}
