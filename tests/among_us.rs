//! The Among Us-style game's rules (Sarkar et al. 2025), each pinned on a hand-played game of
//! external players.

use socium::core::{AgentId, Sim, StepError, space::ActionProblem};
use socium::games::deduction::among_us::{IMPOSTER_WIN, TASK_WIN, acts, obs};
use socium::scenario::Scenario;
use std::path::Path;

/// `n` external players on a `width × height` grid with the given `[game.among_us]` extras.
fn game(n: usize, width: u32, height: u32, extra: &str) -> Sim {
    seeded(n, width, height, extra, 3)
}

fn seeded(n: usize, width: u32, height: u32, extra: &str, seed: u64) -> Sim {
    let text = format!(
        "[scenario]\nname = \"au\"\nseed = {seed}\n[game.among_us]\nwidth = {width}\n\
         height = {height}\n{extra}\n[[agents]]\ncontroller = \"external\"\ncount = {n}\n"
    );
    Scenario::parse(&text, Path::new("au.toml"))
        .unwrap()
        .sim()
        .unwrap()
}

fn row(sim: &Sim, a: usize) -> &[f32] {
    let dim = sim.spaces().observation.flat_dim();
    &sim.observations()[a * dim..(a + 1) * dim]
}

fn imposter(sim: &Sim, n: usize) -> usize {
    (0..n).find(|&a| row(sim, a)[obs::IMPOSTER] == 1.0).unwrap()
}

fn mask(sim: &Sim, a: usize) -> &[u8] {
    let dim = sim.spaces().action.mask_dim();
    &sim.action_masks()[a * dim..(a + 1) * dim]
}

fn alive(sim: &Sim, n: usize, rooms: usize) -> usize {
    (0..n)
        .filter(|&j| row(sim, 0)[obs::alive(n, rooms) + j] == 1.0)
        .count()
}

fn stage(sim: &Sim, a: usize) -> usize {
    (0..3)
        .find(|&s| row(sim, a)[obs::STAGE + s] == 1.0)
        .unwrap()
}

#[test]
fn a_kill_waits_for_the_cooldown_and_everyone_in_the_room_witnesses_it() {
    // One room: everyone is together. Cooldown 2: no kill at steps 0 and 1, one at step 2.
    let n = 5;
    let mut sim = game(n, 1, 1, "kill_cooldown = 2\ntasks = 3\ntask_steps = 3");
    let imp = imposter(&sim, n);
    let victim = (imp + 1) % n;
    let mut acts_now = vec![acts::WAIT as f32; n];
    acts_now[imp] = acts::aim(n, victim) as f32;
    for step in 0..2 {
        let err = sim.step(&acts_now).unwrap_err();
        assert!(
            matches!(
                err,
                StepError::BadAction {
                    problem: ActionProblem::Masked { .. },
                    ..
                }
            ),
            "step {step}: {err:?}"
        );
        sim.step(&vec![acts::WAIT as f32; n]).unwrap();
    }
    sim.step(&acts_now).unwrap();
    assert_eq!(alive(&sim, n, 1), n - 1);
    for w in (0..n).filter(|&w| w != imp && w != victim) {
        assert_eq!(row(&sim, w)[obs::witnessed(n, 1) + imp], 1.0, "witness {w}");
    }
    // A crewmate may not kill, and the cooldown starts again.
    let crew = (imp + 2) % n;
    assert_eq!(mask(&sim, crew)[acts::aim(n, imp)], 0);
    assert_eq!(mask(&sim, imp)[acts::aim(n, crew)], 0);
    assert!(
        sim.utterances()
            .iter()
            .any(|u| u.act.kind == "kill" && u.act.value == 3.0)
    );
}

#[test]
fn a_kill_needs_the_same_room() {
    // Two rooms side by side; cooldown 0. Whoever shares the imposter's room may be killed,
    // nobody else.
    let n = 5;
    let mut seen = [false; 2];
    for seed in 0..10 {
        let sim = seeded(n, 2, 1, "kill_cooldown = 0", seed);
        let imp = imposter(&sim, n);
        let room = |a: usize| {
            (0..2)
                .find(|&r| row(&sim, a)[obs::room(n, 2) + r] == 1.0)
                .unwrap()
        };
        for j in (0..n).filter(|&j| j != imp) {
            let legal = mask(&sim, imp)[acts::aim(n, j)] == 1;
            assert_eq!(legal, room(j) == room(imp), "seed {seed}, player {j}");
            seen[usize::from(legal)] = true;
        }
    }
    assert_eq!(
        seen,
        [true, true],
        "both a player in the room and one out of it"
    );
}

/// A one-room game where the imposter kills at the first step (cooldown 0), and `reporter`
/// reports the body at the next.
fn killed_and_reported(n: usize, messages: u32) -> (Sim, usize, usize) {
    let mut sim = game(
        n,
        1,
        1,
        &format!("kill_cooldown = 0\nmessages = {messages}"),
    );
    let imp = imposter(&sim, n);
    let victim = (imp + 1) % n;
    let mut first = vec![acts::WAIT as f32; n];
    first[imp] = acts::aim(n, victim) as f32;
    sim.step(&first).unwrap();
    let reporter = (imp + 2) % n;
    let mut second = vec![acts::WAIT as f32; n];
    second[reporter] = acts::REPORT as f32;
    sim.step(&second).unwrap();
    (sim, imp, victim)
}

#[test]
fn a_report_starts_a_discussion_in_turns_then_a_vote() {
    let n = 5;
    let (mut sim, imp, _) = killed_and_reported(n, 1);
    // Discussion: 4 living players speak once each, one per step.
    for _ in 0..4 {
        let speakers: Vec<usize> = (0..n).filter(|&a| sim.acting()[a]).collect();
        assert_eq!(speakers.len(), 1);
        assert_eq!(stage(&sim, speakers[0]), 1);
        let mut claims = vec![acts::WAIT as f32; n];
        claims[speakers[0]] = acts::claim(n, 0) as f32;
        sim.step(&claims).unwrap();
        assert_eq!(sim.utterances()[0].act.kind, "claim");
    }
    assert_eq!(stage(&sim, imp), 2, "then the vote");
    assert_eq!((0..n).filter(|&a| sim.acting()[a]).count(), 4);
}

#[test]
fn a_tied_vote_ejects_nobody_and_a_plurality_ejects_one() {
    let n = 5;
    let (mut sim, imp, victim) = killed_and_reported(n, 0);
    let living: Vec<usize> = (0..n).filter(|&a| a != victim).collect();
    let others: Vec<usize> = living.iter().copied().filter(|&a| a != imp).collect();
    // 2 votes against two different players: a tie.
    let mut votes = vec![acts::WAIT as f32; n];
    votes[others[0]] = acts::aim(n, others[1]) as f32;
    votes[others[1]] = acts::aim(n, others[0]) as f32;
    votes[others[2]] = acts::aim(n, others[0]) as f32;
    votes[imp] = acts::aim(n, others[1]) as f32;
    sim.step(&votes).unwrap();
    assert_eq!(alive(&sim, n, 1), 4, "a tie ejects nobody");
    assert_eq!(stage(&sim, imp), 0, "back to play");
    // Next report, then three votes against the imposter: ejected, the crew wins.
    let mut kill = vec![acts::WAIT as f32; n];
    kill[imp] = acts::aim(n, others[2]) as f32;
    sim.step(&kill).unwrap();
    let mut report = vec![acts::WAIT as f32; n];
    report[others[0]] = acts::REPORT as f32;
    sim.step(&report).unwrap();
    let mut votes = vec![acts::WAIT as f32; n];
    votes[others[0]] = acts::aim(n, imp) as f32;
    votes[others[1]] = acts::aim(n, imp) as f32;
    sim.step(&votes).unwrap();
    assert!(sim.is_done());
    assert_eq!(sim.metrics().mean(IMPOSTER_WIN), Some(0.0));
    let last = sim.utterances().last().unwrap();
    assert_eq!(
        (last.act.kind, last.speaker),
        ("ejected", AgentId(imp as u32))
    );
}

#[test]
fn finishing_every_task_wins_for_the_crew() {
    let n = 5;
    let mut sim = game(n, 1, 1, "tasks = 1\ntask_steps = 2\nkill_cooldown = 9");
    let imp = imposter(&sim, n);
    let mut work = vec![acts::TASK as f32; n];
    work[imp] = acts::WAIT as f32;
    // The imposter has no tasks to do.
    assert_eq!(mask(&sim, imp)[acts::TASK], 0);
    sim.step(&work).unwrap();
    assert!(!sim.is_done());
    sim.step(&work).unwrap();
    assert!(sim.is_done());
    assert_eq!(sim.metrics().mean(TASK_WIN), Some(1.0));
    assert_eq!(sim.metrics().mean(IMPOSTER_WIN), Some(0.0));
}

#[test]
fn the_imposters_win_when_they_match_the_crew() {
    // 3 players, 1 imposter: one kill leaves 1 against 1.
    let n = 3;
    let mut sim = game(n, 1, 1, "kill_cooldown = 0");
    let imp = imposter(&sim, n);
    let mut kill = vec![acts::WAIT as f32; n];
    kill[imp] = acts::aim(n, (imp + 1) % n) as f32;
    sim.step(&kill).unwrap();
    assert!(sim.is_done());
    assert_eq!(sim.metrics().mean(IMPOSTER_WIN), Some(1.0));
    let win: Vec<f32> = (0..n).map(|a| sim.reward_components()[a * 7]).collect();
    for (a, w) in win.iter().enumerate() {
        assert_eq!(*w, if a == imp { 1.0 } else { -1.0 }, "agent {a}");
    }
}

/// Rewards of `dimension` (its index among the game's 7) on the last step's entries, by agent.
fn entries(sim: &Sim, dimension: u16) -> Vec<(usize, f64)> {
    let mut e: Vec<(usize, f64)> = sim
        .reward_entries()
        .iter()
        .filter(|e| e.dimension.0 == dimension)
        .map(|e| (e.agent.index(), e.value))
        .collect();
    e.sort_by_key(|(a, _)| *a);
    e
}

#[test]
fn listening_and_speaking_rewards_follow_their_definitions() {
    // Over a few seeds the first speaker is sometimes the imposter, sometimes a crewmate.
    let cases: Vec<bool> = (0..12)
        .map(listening_and_speaking_after_one_message)
        .collect();
    assert!(cases.contains(&true) && cases.contains(&false), "{cases:?}");
}

/// Plays to a discussion (seeded `seed`), has the first speaker say one message and checks the
/// listening and speaking entries; says whether the imposter spoke.
fn listening_and_speaking_after_one_message(seed: u64) -> bool {
    use socium::games::deduction::among_us::{LISTENING, SPEAKING, model};
    // Two rooms side by side. Everyone gathers in room 0; the imposter and its victim go to room
    // 1, where the imposter kills unseen; a crewmate comes over and reports. At the report the
    // imposter and the reporter are in room 1, the two other crewmates in room 0.
    let n = 5;
    let mut sim = seeded(n, 2, 1, "kill_cooldown = 0\nmessages = 1", seed);
    let imp = imposter(&sim, n);
    let room = |sim: &Sim, a: usize| {
        (0..2)
            .find(|&r| row(sim, a)[obs::room(n, 2) + r] == 1.0)
            .unwrap()
    };
    let (west, east) = (acts::MOVES[3] as f32, acts::MOVES[2] as f32);
    let gather: Vec<f32> = (0..n)
        .map(|a| {
            if room(&sim, a) == 1 {
                west
            } else {
                acts::WAIT as f32
            }
        })
        .collect();
    sim.step(&gather).unwrap();
    let victim = (imp + 1) % n;
    let mut pair = vec![acts::WAIT as f32; n];
    pair[imp] = east;
    pair[victim] = east;
    sim.step(&pair).unwrap();
    let mut kill = vec![acts::WAIT as f32; n];
    kill[imp] = acts::aim(n, victim) as f32;
    sim.step(&kill).unwrap();
    let crew: Vec<usize> = (0..n).filter(|&a| a != imp && a != victim).collect();
    let reporter = crew[0];
    let mut come = vec![acts::WAIT as f32; n];
    come[reporter] = east;
    sim.step(&come).unwrap();
    let mut report = vec![acts::WAIT as f32; n];
    report[reporter] = acts::REPORT as f32;
    sim.step(&report).unwrap();
    // Every crewmate now holds 1/3 on each of the three other living players.
    let belief = |sim: &Sim, a: usize, j: usize| row(sim, a)[obs::belief(n, 2) + j];
    for &c in &crew {
        for &j in crew.iter().chain([&imp]).filter(|&&j| j != c) {
            assert!((belief(&sim, c, j) - 1.0 / 3.0).abs() < 1e-6);
        }
    }
    let speaker = (0..n).find(|&a| sim.acting()[a]).unwrap();
    let mut say = vec![acts::WAIT as f32; n];
    let (listening, speaking): (Vec<(usize, f64)>, f64);
    if speaker == imp {
        // The imposter claims room 0. Every crewmate knows it was in room 1 (the reporter was
        // with it; the other two were in room 0 without it): each becomes certain. Listening:
        // ln 1 = 0 for each; speaking: the crew's summed belief goes from 3 × 1/3 to 3 × 1, and
        // the imposter gets the negative: −2.
        say[imp] = acts::claim(n, 0) as f32;
        listening = crew.iter().map(|&c| (c, 0.0)).collect();
        speaking = -2.0;
    } else {
        // A crewmate accuses another crewmate `j`. For a listener, each hypothesis h (the
        // imposter) weighs the accusation: h = speaker: 1/3 (an imposter accuses one of the 3
        // other living players), h = j: ACCUSE_TRUE, any other h: ACCUSE_FALSE.
        let j = *crew.iter().find(|&&c| c != speaker).unwrap();
        say[speaker] = acts::aim(n, j) as f32;
        let (t, f) = (model::ACCUSE_TRUE, model::ACCUSE_FALSE);
        // The third crewmate `o` (neither speaker nor j) holds h ∈ {imp, speaker, j}; j holds
        // h ∈ {imp, speaker, o}. Uniform priors cancel.
        let p_o = f / (f + 1.0 / 3.0 + t);
        let p_j = f / (f + 1.0 / 3.0 + f);
        let o = *crew.iter().find(|&&c| c != speaker && c != j).unwrap();
        let mut l = vec![(o, p_o.ln()), (j, p_j.ln())];
        l.sort_by_key(|(a, _)| *a);
        listening = l;
        // The speaker's own belief stays 1/3: the sum goes from 1 to 1/3 + p_o + p_j.
        speaking = (1.0 / 3.0 + p_o + p_j) - 1.0;
    }
    sim.step(&say).unwrap();
    let message = sim.utterances()[0].id;
    let got = entries(&sim, LISTENING.0);
    assert_eq!(got.len(), listening.len(), "{got:?}");
    for ((a, v), (b, w)) in got.iter().zip(&listening) {
        assert_eq!(a, b);
        assert!((v - w).abs() < 1e-12, "listener {a}: {v} vs {w}");
    }
    let got = entries(&sim, SPEAKING.0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, speaker);
    assert!(
        (got[0].1 - speaking).abs() < 1e-12,
        "{} vs {speaking}",
        got[0].1
    );
    // Every listening and speaking entry names the message.
    assert!(
        sim.reward_entries()
            .iter()
            .filter(|e| e.dimension == LISTENING || e.dimension == SPEAKING)
            .all(|e| e.utterance == message)
    );
    speaker == imp
}

#[test]
fn bayesian_crewmates_beat_random_crewmates_against_lying_imposters() {
    // 400 episodes each, same seed and imposter play. Measured: the imposters win 44% against
    // Bayesian crewmates and 78% against random ones; the test asks for a 20-point margin.
    let run_with = |strategy: &str| {
        let text = format!(
            "[scenario]\nname = \"au\"\nseed = 11\nepisodes = 400\nmax_steps = 200\n\
             [game.among_us]\nimposter = \"lying\"\n[[agents]]\nstrategy = \"{strategy}\"\ncount = 5\n"
        );
        let s = Scenario::parse(&text, Path::new("au.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        socium::scenario::run(&s, dir.path(), |_| {})
            .unwrap()
            .metrics["imposter_win"]
    };
    let (bayesian, random) = (run_with("bayesian"), run_with("random"));
    assert!(
        random - bayesian >= 0.20,
        "bayesian {bayesian}, random {random}"
    );
}
