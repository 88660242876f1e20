//! The Among Us-style game's rules (Sarkar et al. 2025), each pinned on a hand-played game of
//! external players.

use socium::core::{AgentId, Sim, StepError, UtteranceEntries, space::ActionProblem};
use socium::games::deduction::among_us::{CREW_WIN, IMPOSTER_WIN, TASK_WIN, acts, obs};
use socium::scenario::Scenario;
use std::path::Path;

/// `n` external players on a `width × height` grid with the given `[game.among_us]` extras.
fn game(n: usize, width: u32, height: u32, extra: &str) -> Sim {
    seeded(n, width, height, extra, 3)
}

fn seeded(n: usize, width: u32, height: u32, extra: &str, seed: u64) -> Sim {
    limited(n, width, height, extra, seed, None)
}

/// [`seeded`], with the scenario's step limit.
fn limited(
    n: usize,
    width: u32,
    height: u32,
    extra: &str,
    seed: u64,
    max_steps: Option<u32>,
) -> Sim {
    let text = format!(
        "[scenario]\nname = \"au\"\nseed = {seed}\n[game.among_us]\nwidth = {width}\n\
         height = {height}\n{extra}\n[[agents]]\ncontroller = \"external\"\ncount = {n}\n"
    );
    let mut scenario = Scenario::parse(&text, Path::new("au.toml")).unwrap();
    scenario.config.max_steps = max_steps;
    scenario.sim().unwrap()
}

/// Steps with one act per player (`acts[a]`), every player stating a uniform belief.
fn play(sim: &mut Sim, acts: &[f32]) -> Result<(), StepError> {
    let n = acts.len();
    let uniform = vec![1.0 / n as f32; n];
    let rows: Vec<f32> = acts
        .iter()
        .flat_map(|&act| std::iter::once(act).chain(uniform.iter().copied()))
        .collect();
    sim.step(&rows)
}

fn row(sim: &Sim, a: usize) -> &[f32] {
    let dim = sim.spaces().observation.flat_dim();
    &sim.env().observations()[a * dim..(a + 1) * dim]
}

fn imposter(sim: &Sim, n: usize) -> usize {
    (0..n).find(|&a| row(sim, a)[obs::IMPOSTER] == 1.0).unwrap()
}

fn mask(sim: &Sim, a: usize) -> &[u8] {
    let dim = sim.spaces().action.mask_dim();
    &sim.env().action_masks()[a * dim..(a + 1) * dim]
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
        let err = play(&mut sim, &acts_now).unwrap_err();
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
        play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
    }
    play(&mut sim, &acts_now).unwrap();
    assert_eq!(alive(&sim, n, 1), n - 1);
    for w in (0..n).filter(|&w| w != imp && w != victim) {
        assert_eq!(row(&sim, w)[obs::witnessed(n, 1) + imp], 1.0, "witness {w}");
    }
    // A crewmate may not kill, and the cooldown starts again.
    let crew = (imp + 2) % n;
    assert_eq!(mask(&sim, crew)[acts::aim(n, imp)], 0);
    assert_eq!(mask(&sim, imp)[acts::aim(n, crew)], 0);
    assert!(
        sim.env()
            .utterances()
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

/// A one-room game (seeded `seed`, with `[game.among_us]` extras) where the imposter kills at the first step (cooldown 0), and
/// a crewmate reports the body at the next.
fn killed_and_reported(n: usize, extra: &str, seed: u64) -> (Sim, usize, usize) {
    kill_and_report(
        seeded(n, 1, 1, &format!("kill_cooldown = 0\n{extra}"), seed),
        n,
    )
}

/// The kill and the report of [`killed_and_reported`], in a one-room game `sim` of `n` players
/// with kill cooldown 0.
fn kill_and_report(mut sim: Sim, n: usize) -> (Sim, usize, usize) {
    let imp = imposter(&sim, n);
    let victim = (imp + 1) % n;
    let mut first = vec![acts::WAIT as f32; n];
    first[imp] = acts::aim(n, victim) as f32;
    play(&mut sim, &first).unwrap();
    let reporter = (imp + 2) % n;
    let mut second = vec![acts::WAIT as f32; n];
    second[reporter] = acts::REPORT as f32;
    play(&mut sim, &second).unwrap();
    (sim, imp, victim)
}

#[test]
fn a_report_starts_a_discussion_in_turns_then_a_vote() {
    let n = 5;
    let (mut sim, imp, victim) = killed_and_reported(n, "messages = 1", 3);
    // Discussion: 4 living players speak once each, one per step; all 4 act at every step (to
    // state their beliefs), the others may only wait.
    let mut spoke = Vec::new();
    for _ in 0..4 {
        let acting = (0..n).filter(|&a| sim.env().acting()[a]).count();
        assert_eq!(acting, 4);
        let speakers: Vec<usize> = (0..n)
            .filter(|&a| mask(&sim, a)[1..].contains(&1))
            .collect();
        assert_eq!(speakers.len(), 1);
        spoke.push(speakers[0]);
        assert_eq!(stage(&sim, speakers[0]), 1);
        let mut claims = vec![acts::WAIT as f32; n];
        claims[speakers[0]] = acts::claim(n, 0) as f32;
        play(&mut sim, &claims).unwrap();
        assert_eq!(sim.env().utterances()[0].act.kind, "claim");
        // Everyone sees the claim (one room: entry `speaker`).
        assert_eq!(row(&sim, imp)[obs::claims(n, 1) + speakers[0]], 1.0);
    }
    // Each living player once: the victim never.
    spoke.sort();
    let mut living: Vec<usize> = (0..n).filter(|&a| a != victim).collect();
    living.sort();
    assert_eq!(spoke, living);
    assert_eq!(stage(&sim, imp), 2, "then the vote");
    assert_eq!((0..n).filter(|&a| sim.env().acting()[a]).count(), 4);
}

#[test]
fn a_tied_vote_ejects_nobody_and_a_plurality_ejects_one() {
    let n = 5;
    let (mut sim, imp, victim) = killed_and_reported(n, "messages = 0", 3);
    let living: Vec<usize> = (0..n).filter(|&a| a != victim).collect();
    let others: Vec<usize> = living.iter().copied().filter(|&a| a != imp).collect();
    // 2 votes against two different players: a tie.
    let mut votes = vec![acts::WAIT as f32; n];
    votes[others[0]] = acts::aim(n, others[1]) as f32;
    votes[others[1]] = acts::aim(n, others[0]) as f32;
    votes[others[2]] = acts::aim(n, others[0]) as f32;
    votes[imp] = acts::aim(n, others[1]) as f32;
    play(&mut sim, &votes).unwrap();
    assert_eq!(alive(&sim, n, 1), 4, "a tie ejects nobody");
    assert_eq!(stage(&sim, imp), 0, "back to play");
    // Next report, then three votes against the imposter: ejected, the crew wins.
    let mut kill = vec![acts::WAIT as f32; n];
    kill[imp] = acts::aim(n, others[2]) as f32;
    play(&mut sim, &kill).unwrap();
    let mut report = vec![acts::WAIT as f32; n];
    report[others[0]] = acts::REPORT as f32;
    play(&mut sim, &report).unwrap();
    let mut votes = vec![acts::WAIT as f32; n];
    votes[others[0]] = acts::aim(n, imp) as f32;
    votes[others[1]] = acts::aim(n, imp) as f32;
    play(&mut sim, &votes).unwrap();
    assert!(sim.env().is_done());
    assert_eq!(sim.env().metrics().mean(IMPOSTER_WIN), Some(0.0));
    let last = sim.env().utterances().last().unwrap();
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
    play(&mut sim, &work).unwrap();
    assert!(!sim.env().is_done());
    play(&mut sim, &work).unwrap();
    assert!(sim.env().is_done());
    assert_eq!(sim.env().metrics().mean(TASK_WIN), Some(1.0));
    assert_eq!(sim.env().metrics().mean(IMPOSTER_WIN), Some(0.0));
}

#[test]
fn a_dead_crewmates_unfinished_tasks_do_not_block_a_task_win() {
    // The imposter kills a crewmate who has done none of its task; the three living crewmates
    // finish theirs and win, as in the original's `check_no_remaining_tasks`, which counts only
    // the living crewmates' tasks.
    let n = 5;
    let mut sim = game(n, 1, 1, "tasks = 1\ntask_steps = 2\nkill_cooldown = 0");
    let imp = imposter(&sim, n);
    let victim = (imp + 1) % n;
    let mut first = vec![acts::TASK as f32; n];
    first[imp] = acts::aim(n, victim) as f32;
    first[victim] = acts::WAIT as f32;
    play(&mut sim, &first).unwrap();
    assert_eq!(alive(&sim, n, 1), n - 1);
    assert!(!sim.env().is_done());
    // Half of the living crew's task steps are done; the dead crewmate's do not count.
    assert_eq!(row(&sim, imp)[obs::TASKS_DONE], 0.5);
    let mut second = vec![acts::TASK as f32; n];
    second[imp] = acts::WAIT as f32;
    second[victim] = acts::WAIT as f32;
    play(&mut sim, &second).unwrap();
    assert!(sim.env().is_done());
    assert_eq!(sim.env().metrics().mean(TASK_WIN), Some(1.0));
    assert_eq!(sim.env().metrics().mean(IMPOSTER_WIN), Some(0.0));
}

#[test]
fn the_imposters_win_when_they_match_the_crew() {
    // 3 players, 1 imposter: one kill leaves 1 against 1.
    let n = 3;
    let mut sim = game(n, 1, 1, "kill_cooldown = 0");
    let imp = imposter(&sim, n);
    let mut kill = vec![acts::WAIT as f32; n];
    kill[imp] = acts::aim(n, (imp + 1) % n) as f32;
    play(&mut sim, &kill).unwrap();
    assert!(sim.env().is_done());
    assert_eq!(sim.env().metrics().mean(IMPOSTER_WIN), Some(1.0));
    let d = sim.env().reward_dimensions().len();
    let win: Vec<f32> = (0..n)
        .map(|a| sim.env().reward_components()[a * d])
        .collect();
    for (a, w) in win.iter().enumerate() {
        assert_eq!(*w, if a == imp { 1.0 } else { -1.0 }, "agent {a}");
    }
}

/// Rewards of `dimension` (its index among the game's) on the last step's entries, by agent.
fn entries(sim: &Sim, dimension: u16) -> Vec<(usize, f64)> {
    let mut e: Vec<(usize, f64)> = sim
        .env()
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
    // Over a few seeds the first speaker is sometimes the imposter, sometimes a crewmate; the
    // speaking reward's pool without the speaker (Socium's default) and with it (the original's).
    for in_pool in [false, true] {
        let cases: Vec<bool> = (0..12)
            .map(|s| rewards_of_one_message(s, in_pool))
            .collect();
        assert!(cases.contains(&true) && cases.contains(&false), "{cases:?}");
    }
}

/// Player `a`'s belief stated at discussion step `t`: weights 1..=5 spread over the other players
/// by a fixed pattern, normalised.
fn stated(n: usize, a: usize, t: usize) -> Vec<f32> {
    let w: Vec<f32> = (0..n)
        .map(|j| match j == a {
            true => 0.0,
            false => (1 + (3 * a + 7 * j + t) % 5) as f32,
        })
        .collect();
    let total: f32 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// Plays to a discussion (seeded `seed`) of external players who state beliefs; the first speaker
/// accuses someone, and at the next step (when the listeners have stated their beliefs after it)
/// the message's listening and speaking entries settle, naming it (the speaking reward's pool
/// with the speaker's own belief when `in_pool`). Says whether the imposter spoke.
fn rewards_of_one_message(seed: u64, in_pool: bool) -> bool {
    use socium::games::deduction::among_us::{LISTENING, LISTENING_FLOOR, SPEAKING};
    let n = 5;
    let extra = format!("messages = 1\nspeaker_in_pool = {in_pool}");
    let (mut sim, imp, victim) = killed_and_reported(n, &extra, seed);
    let speaker = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    let target = (0..n)
        .find(|&j| mask(&sim, speaker)[acts::aim(n, j)] == 1)
        .unwrap();
    let step_with = |sim: &mut Sim, t: usize, acts: &dyn Fn(usize) -> usize| {
        let rows: Vec<f32> = (0..n)
            .flat_map(|a| std::iter::once(acts(a) as f32).chain(stated(n, a, t)))
            .collect();
        sim.step(&rows).unwrap();
    };
    step_with(&mut sim, 0, &|a| match a == speaker {
        true => acts::aim(n, target),
        false => acts::WAIT,
    });
    let message = sim.env().utterances()[0].id;
    assert_eq!(sim.env().utterances()[0].act.kind, "accuse");
    let settled = |sim: &Sim, d| {
        sim.env()
            .reward_entries()
            .iter()
            .filter(|e| e.dimension == d)
            .count()
    };
    assert_eq!(
        settled(&sim, LISTENING) + settled(&sim, SPEAKING),
        0,
        "nothing yet"
    );
    step_with(&mut sim, 1, &|_| acts::WAIT);
    // The living crewmates other than the speaker, and what they gave the imposter before
    // (stated with the message) and after it.
    let listeners: Vec<usize> = (0..n)
        .filter(|&l| l != imp && l != victim && l != speaker)
        .collect();
    let on_imposter = |l: usize, t: usize| f64::from(stated(n, l, t)[imp]);
    let mut listening: Vec<(usize, f64)> = listeners
        .iter()
        .map(|&l| (l, on_imposter(l, 1).max(LISTENING_FLOOR).ln()))
        .collect();
    listening.sort_by_key(|(a, _)| *a);
    let sign = if speaker == imp { -1.0 } else { 1.0 };
    let pool = listeners
        .iter()
        .copied()
        .chain((in_pool && speaker != imp).then_some(speaker));
    let speaking = sign
        * pool
            .map(|l| on_imposter(l, 1) - on_imposter(l, 0))
            .sum::<f64>();
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
    // Every listening and speaking entry names the message of the step before, and settles it.
    assert!(
        sim.env()
            .reward_entries()
            .iter()
            .filter(|e| e.dimension == LISTENING || e.dimension == SPEAKING)
            .all(|e| e.utterance == message)
    );
    assert!(matches!(
        sim.env().entries_by_utterance()[0],
        UtteranceEntries::Settles { utterance, .. } if utterance == message
    ));
    speaker == imp
}

/// A message made at the last step the scenario allows has no next step for the listeners to
/// answer at: its rewards enter at its own step, on the beliefs as they stand, naming it.
#[test]
fn a_message_at_the_step_limit_settles_at_once() {
    use socium::games::deduction::among_us::{LISTENING, LISTENING_FLOOR, SPEAKING};
    let n = 5;
    // The kill at step 0, the report at step 1, the first message at step 2: the last.
    let sim = limited(n, 1, 1, "kill_cooldown = 0\nmessages = 1", 3, Some(3));
    let (mut sim, imp, victim) = kill_and_report(sim, n);
    let speaker = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    let mut claim = vec![acts::WAIT as f32; n];
    claim[speaker] = acts::claim(n, 0) as f32;
    play(&mut sim, &claim).unwrap();
    assert!(
        sim.env().is_done() && sim.env().truncated()[speaker],
        "the limit ends the episode"
    );
    let message = sim.env().utterances()[0].id;
    // Every player stated a uniform belief with the message and has no step left to change it.
    let listeners = (0..n).filter(|&l| l != imp && l != victim && l != speaker);
    let floored = (1.0f64 / n as f64).max(LISTENING_FLOOR).ln();
    let listening: Vec<(usize, f64)> = listeners.map(|l| (l, floored)).collect();
    let got = entries(&sim, LISTENING.0);
    assert_eq!(got.len(), listening.len(), "{got:?}");
    for ((a, v), (b, w)) in got.iter().zip(&listening) {
        assert_eq!(a, b);
        assert!((v - w).abs() < 1e-6, "listener {a}: {v} vs {w}");
    }
    assert_eq!(entries(&sim, SPEAKING.0), [(speaker, 0.0)]);
    assert!(
        sim.env()
            .reward_entries()
            .iter()
            .filter(|e| e.dimension == LISTENING || e.dimension == SPEAKING)
            .all(|e| e.utterance == message)
    );
}

#[test]
fn bad_actions_are_refused_with_specific_errors() {
    let n = 5;
    let (mut sim, imp, victim) = killed_and_reported(n, "messages = 1", 3);
    let speaker = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    let listener = (0..n)
        .find(|&a| a != speaker && a != victim && a != imp)
        .unwrap();
    let before = sim.env().observations().to_vec();
    let problem = |sim: &mut Sim, acts: &[f32], belief: Option<(usize, Vec<f32>)>| {
        let mut rows: Vec<f32> = acts
            .iter()
            .flat_map(|&act| std::iter::once(act).chain(vec![1.0 / n as f32; n]))
            .collect();
        if let Some((a, b)) = belief {
            rows[a * (n + 1) + 1..(a + 1) * (n + 1)].copy_from_slice(&b);
        }
        match sim.step(&rows).unwrap_err() {
            StepError::BadAction { agent, problem, .. } => (agent.index(), problem),
            other => panic!("{other:?}"),
        }
    };
    // Speaking out of turn: a listener accuses.
    let mut acts_now = vec![acts::WAIT as f32; n];
    acts_now[listener] = acts::aim(n, imp) as f32;
    let (agent, p) = problem(&mut sim, &acts_now, None);
    assert_eq!(agent, listener);
    assert!(matches!(p, ActionProblem::Masked { index: 0, .. }), "{p}");
    // A belief that does not sum to 1.
    let halves = vec![0.5; n];
    let (agent, p) = problem(&mut sim, &[acts::WAIT as f32; 5], Some((listener, halves)));
    assert_eq!(agent, listener);
    assert_eq!(
        p,
        ActionProblem::NotADistribution {
            start: 1,
            end: n + 1,
            sum: 2.5
        }
    );
    // Nothing moved.
    assert_eq!(sim.env().observations(), &before[..]);
    // The discussion runs out; at the vote, a vote for the dead player is refused.
    for _ in 0..4 {
        play(&mut sim, &[acts::WAIT as f32; 5]).unwrap();
    }
    assert_eq!(stage(&sim, imp), 2);
    let mut votes = vec![acts::WAIT as f32; n];
    votes[listener] = acts::aim(n, victim) as f32;
    let (agent, p) = problem(&mut sim, &votes, None);
    assert_eq!(agent, listener);
    assert!(matches!(p, ActionProblem::Masked { .. }), "{p}");
    // Everyone skips; back in play, a crewmate may not kill.
    play(&mut sim, &[acts::WAIT as f32; 5]).unwrap();
    assert_eq!(stage(&sim, imp), 0);
    let mut kill = vec![acts::WAIT as f32; n];
    kill[listener] = acts::aim(n, imp) as f32;
    let (agent, p) = problem(&mut sim, &kill, None);
    assert_eq!(agent, listener);
    assert!(matches!(p, ActionProblem::Masked { .. }), "{p}");
}

#[test]
fn bayesian_crewmates_beat_random_crewmates_against_lying_imposters() {
    // 400 episodes each, same seed and imposter play, with the original's 5 tasks of 5 steps (so
    // that tasks alone rarely win and the vote decides). The claim is an effect of at least 20
    // points in the imposters' win rate; the test asks for 10. Each rate's standard error is at
    // most 0.025 (p(1-p)/400), the gap's at most 0.035: with no effect, a gap of 0.10 is 2.8
    // standard errors out (passes with probability about 0.3%); with the claimed effect, falling
    // short of it is as unlikely. Measured: 47% against Bayesian crewmates, 73.5% against random.
    let run_with = |strategy: &str| {
        let text = format!(
            "[scenario]\nname = \"au\"\nseed = 11\nepisodes = 400\nmax_steps = 200\n\
             [game.among_us]\nimposter = \"lying\"\ntasks = 5\ntask_steps = 5\n\
             [[agents]]\nstrategy = \"{strategy}\"\ncount = 5\n"
        );
        let s = Scenario::parse(&text, Path::new("au.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        socium::scenario::run(&s, dir.path(), |_| {})
            .unwrap()
            .metrics["imposter_win"]
    };
    let (bayesian, random) = (run_with("bayesian"), run_with("random"));
    assert!(
        random - bayesian >= 0.10,
        "bayesian {bayesian}, random {random}"
    );
}

#[test]
fn free_text_is_said_verbatim_where_the_scenario_allows_it() {
    let n = 5;
    let text_problem = |r: Result<(), StepError>| match r {
        Err(StepError::BadAction { problem, .. }) => problem,
        other => panic!("{other:?}"),
    };
    // Without `free_text`, saying text is masked and text is refused.
    let (mut sim, _, _) = killed_and_reported(n, "messages = 1", 3);
    let speaker = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    assert_eq!(mask(&sim, speaker)[acts::say(n, 1)], 0);
    assert!(matches!(
        text_problem(sim.set_text(AgentId(speaker as u32), "hello")),
        ActionProblem::TextNotTaken { .. }
    ));
    // With `free_text = 20`: up to 20 characters, said verbatim.
    let (mut sim, _, _) = killed_and_reported(n, "messages = 1\nfree_text = 20", 3);
    assert_eq!(
        sim.spaces().action.to_string(),
        "Tuple(Discrete(29), Simplex(5), Text(20))"
    );
    let speaker = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    assert_eq!(mask(&sim, speaker)[acts::say(n, 1)], 1);
    let long = "I was fixing the wires";
    assert_eq!(
        text_problem(sim.set_text(AgentId(speaker as u32), long)),
        ActionProblem::TextTooLong { chars: 22, max: 20 }
    );
    sim.set_text(AgentId(speaker as u32), "fixing wires, 0 too")
        .unwrap();
    let mut say = vec![acts::WAIT as f32; n];
    say[speaker] = acts::say(n, 1) as f32;
    play(&mut sim, &say).unwrap();
    let u = &sim.env().utterances()[0];
    assert_eq!(u.act.kind, "say");
    assert_eq!(
        u.text.as_deref(),
        Some(format!("agent {speaker}: \"fixing wires, 0 too\"").as_str())
    );
    // Texts last one step.
    let next = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    let mut say = vec![acts::WAIT as f32; n];
    say[next] = acts::say(n, 1) as f32;
    play(&mut sim, &say).unwrap();
    let said = sim
        .env()
        .utterances()
        .iter()
        .find(|u| u.act.kind == "say")
        .unwrap();
    assert_eq!(
        said.text.as_deref(),
        Some(format!("agent {next}: \"\"").as_str())
    );
}

#[test]
fn sightings_and_kill_reports_are_typed_messages() {
    let n = 5;
    let (mut sim, imp, victim) = killed_and_reported(n, "messages = 1", 3);
    let speaker = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    let other = (0..n).find(|&j| j != speaker && j != victim).unwrap();
    let m = mask(&sim, speaker);
    assert_eq!(m[acts::saw(n, 1, speaker, 0)], 0, "not of oneself");
    assert_eq!(m[acts::saw_kill(n, 1, victim)], 0, "not of the dead");
    let mut say = vec![acts::WAIT as f32; n];
    say[speaker] = acts::saw(n, 1, other, 0) as f32;
    play(&mut sim, &say).unwrap();
    let u = &sim.env().utterances()[0];
    assert_eq!(
        (u.act.kind, u.act.target, u.act.value),
        ("saw", Some(AgentId(other as u32)), 0.0)
    );
    // Everyone sees who was placed where.
    assert_eq!(row(&sim, imp)[obs::sightings(n, 1) + other], 1.0);
    // The body was reported at step 1 (the kill was at step 0).
    let said = format!("agent {speaker}: \"I saw agent {other} in room 0 at step 1.\"");
    assert_eq!(u.text.as_deref(), Some(said.as_str()));
    let next = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
    let accused = if next == imp { other } else { imp };
    let mut say = vec![acts::WAIT as f32; n];
    say[next] = acts::saw_kill(n, 1, accused) as f32;
    play(&mut sim, &say).unwrap();
    let u = sim
        .env()
        .utterances()
        .iter()
        .find(|u| u.act.kind == "saw_kill")
        .unwrap();
    assert_eq!(u.act.target, Some(AgentId(accused as u32)));
    // Everyone sees who reported whom, and who accused whom (nobody).
    let seen = |a: usize, at: usize| row(&sim, a)[at + next * n + accused];
    assert_eq!(seen(other, obs::kill_reports(n, 1)), 1.0);
    assert_eq!(seen(other, obs::accusations(n, 1)), 0.0);
    let reports = obs::kill_reports(n, 1);
    let all: f32 = row(&sim, other)[reports..reports + n * n].iter().sum();
    assert_eq!(all, 1.0);
}

#[test]
fn only_external_players_may_say_free_text() {
    // Four external players and one random one, free text allowed: whenever the random player
    // has the floor, saying text is masked (it has no words); an external speaker may.
    let n = 5;
    let text = "[scenario]\nname = \"au\"\nseed = 9\nmax_steps = 100\n[game.among_us]\nwidth = 1\n\
                height = 1\nkill_cooldown = 0\nfree_text = 20\n[[agents]]\n\
                controller = \"external\"\ncount = 4\n[[agents]]\ncontroller = \"random\"\n";
    let mut sim = Scenario::parse(text, Path::new("au.toml"))
        .unwrap()
        .sim()
        .unwrap();
    let say = acts::say(n, 1);
    let mut seen = [false; 2];
    for _ in 0..3000 {
        if sim.env().is_done() {
            sim.reset(None);
        }
        let speaking =
            |sim: &Sim, a: usize| sim.env().acting()[a] && mask(sim, a)[1..].contains(&1);
        if stage(&sim, 0) == 1 {
            for a in (0..n).filter(|&a| speaking(&sim, a)) {
                assert_eq!(mask(&sim, a)[say], u8::from(a < 4), "player {a}");
                seen[usize::from(a < 4)] = true;
            }
        }
        // External players report bodies and kill when they can, and otherwise wait.
        let acts: Vec<f32> = (0..n)
            .map(|a| {
                let m = mask(&sim, a);
                let kill = (0..n).map(|j| acts::aim(n, j)).find(|&k| m[k] == 1);
                let act = match (stage(&sim, a), m[acts::REPORT] == 1, kill) {
                    (0, true, _) => acts::REPORT,
                    (0, false, Some(k)) => k,
                    _ => acts::WAIT,
                };
                act as f32
            })
            .collect();
        play(&mut sim, &acts).unwrap();
    }
    assert_eq!(seen, [true, true], "both kinds of speaker had the floor");
}

// The rules of Sarkar et al.'s released code (SocialDeductionLLM, `src/string_env.py`,
// `StringAmogus`), each pinned on a hand-played game in the preset that reproduces it.

/// The grid of `rules = "sarkar_eval"`: 2 × 2 rooms, everyone starting in room 0 (the middle,
/// rounded down, of the first row).
const EVAL_ROOMS: usize = 4;

/// `n` external players under `rules = "sarkar_eval"` (tasks and moves of 3 steps), with extras.
fn original(n: usize, extra: &str, seed: u64) -> Sim {
    let text = format!(
        "[scenario]\nname = \"au\"\nseed = {seed}\n[game.among_us]\nrules = \"sarkar_eval\"\n\
         {extra}\n[[agents]]\ncontroller = \"external\"\ncount = {n}\n"
    );
    let mut scenario = Scenario::parse(&text, Path::new("au.toml")).unwrap();
    scenario.config.text = true;
    scenario.sim().unwrap()
}

/// A game of [`original`] (the first seed from 0 that has one) where a crewmate has a task in
/// the start room, and that crewmate.
fn with_task_at_start(n: usize, extra: &str) -> (Sim, usize) {
    (0..)
        .find_map(|seed| {
            let sim = original(n, extra, seed);
            let worker = (0..n).find(|&a| row(&sim, a)[obs::task_rooms(n, EVAL_ROOMS)] == 1.0)?;
            Some((sim, worker))
        })
        .unwrap()
}

/// The `here` block of `a`'s row.
fn here(sim: &Sim, n: usize, a: usize) -> Vec<f32> {
    let at = obs::here(n, EVAL_ROOMS);
    row(sim, a)[at..at + n].to_vec()
}

#[test]
fn a_move_commits_the_walker_for_its_steps_and_it_is_seen_passing() {
    // Moves take the task time, 3 steps: a move made at step 0 keeps the walker from acting
    // at steps 1 to 4 and it acts again at step 5, as the original's `go` (timer 3, arrival at
    // s + 3, prompted at s + 4, the answer played at s + 5). While it walks, the players it
    // leaves see it passing; once it arrives they no longer see it.
    let n = 5;
    let mut sim = original(n, "kill_cooldown = 100", 1);
    for a in 0..n {
        assert_eq!(
            row(&sim, a)[obs::room(n, EVAL_ROOMS)],
            1.0,
            "{a} starts in room 0"
        );
    }
    let imp = imposter(&sim, n);
    let (walker, stays) = ((imp + 1) % n, (imp + 2) % n);
    let mut east = vec![acts::WAIT as f32; n];
    east[walker] = acts::MOVES[2] as f32;
    play(&mut sim, &east).unwrap();
    for step in 1..=4 {
        assert!(!sim.env().acting()[walker], "busy at step {step}");
        let seen = if step <= 3 { obs::PASSING } else { 0.0 };
        assert_eq!(here(&sim, n, stays)[walker], seen, "step {step}");
        assert_eq!(row(&sim, walker)[obs::room(n, EVAL_ROOMS) + 1], 1.0);
        play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
    }
    assert!(sim.env().acting()[walker], "acts again at step 5");
}

#[test]
fn a_task_commits_the_worker_who_sees_nothing_until_it_is_done() {
    // One "do task" at step 0; the task is done (and paid, on that act) at step 3, the worker
    // sees nothing of its room until then, and acts again at step 5.
    use socium::games::deduction::among_us::TASK;
    let n = 5;
    let (mut sim, worker) = with_task_at_start(n, "kill_cooldown = 100");
    let tasks_before = row(&sim, worker)[obs::OWN_TASKS];
    let mut work = vec![acts::WAIT as f32; n];
    work[worker] = acts::TASK as f32;
    play(&mut sim, &work).unwrap();
    let began = sim.env().utterances()[0].clone();
    assert_eq!((began.act.kind, began.speaker.index()), ("task", worker));
    for step in 1..=4 {
        // Everyone else stands in room 0 with the worker.
        let blind = step <= 3;
        let seen = here(&sim, n, worker);
        let others_seen = (0..n).filter(|&j| j != worker && seen[j] == 1.0).count();
        assert_eq!(others_seen, if blind { 0 } else { n - 1 }, "step {step}");
        assert!(!sim.env().acting()[worker], "busy at step {step}");
        play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
        let paid: Vec<_> = sim
            .env()
            .reward_entries()
            .iter()
            .filter(|e| e.dimension == TASK)
            .map(|e| (e.agent.index(), e.utterance, e.value))
            .collect();
        match step {
            3 => assert_eq!(paid, vec![(worker, began.id, 1.0)]),
            _ => assert!(paid.is_empty(), "step {step}: {paid:?}"),
        }
    }
    assert!(sim.env().acting()[worker], "acts again at step 5");
    assert!(row(&sim, worker)[obs::OWN_TASKS] < tasks_before);
}

#[test]
fn a_kill_is_seen_by_idle_players_only_and_reported_by_crewmates_only() {
    // Step 0: a crewmate starts walking out of room 0, another starts a task there. Step 1:
    // the imposter kills the walker at the door (a player walking out of its room may be
    // killed), while a third crewmate walks out. Only the idle crewmate sees it (the original's
    // `notify_death`: not a worker, not one who left); the body lies in room 0; a crewmate may
    // report it, the imposter may not.
    let n = 5;
    let (mut sim, worker) = with_task_at_start(n, "kill_cooldown = 1");
    let imp = imposter(&sim, n);
    let crew: Vec<usize> = (0..n).filter(|&a| a != imp && a != worker).collect();
    let (walker, leaver, idle) = (crew[0], crew[1], crew[2]);
    let mut first = vec![acts::WAIT as f32; n];
    first[walker] = acts::MOVES[2] as f32;
    first[worker] = acts::TASK as f32;
    play(&mut sim, &first).unwrap();
    assert_eq!(
        mask(&sim, imp)[acts::aim(n, walker)],
        1,
        "killable walking out"
    );
    let mut second = vec![acts::WAIT as f32; n];
    second[imp] = acts::aim(n, walker) as f32;
    second[leaver] = acts::MOVES[1] as f32;
    play(&mut sim, &second).unwrap();
    assert_eq!(alive(&sim, n, EVAL_ROOMS), n - 1);
    let saw = |a: usize| row(&sim, a)[obs::witnessed(n, EVAL_ROOMS) + imp] == 1.0;
    assert!(saw(idle) && !saw(worker) && !saw(leaver));
    assert_eq!(row(&sim, idle)[obs::bodies(n, EVAL_ROOMS) + walker], 1.0);
    assert_eq!(mask(&sim, idle)[acts::REPORT], 1);
    assert_eq!(mask(&sim, imp)[acts::REPORT], 0);
}

/// Plays [`original`]'s game (seeded 2, kill cooldown 1) to a discussion: the imposter kills at
/// step 1 while a crewmate walks away (started at step 0), a crewmate reports at step 2. Gives
/// the game, the imposter, the victim and the walker.
fn original_meeting(n: usize) -> (Sim, usize, usize, usize) {
    let mut sim = original(n, "kill_cooldown = 1", 2);
    let imp = imposter(&sim, n);
    let (walker, victim, reporter) = ((imp + 1) % n, (imp + 2) % n, (imp + 3) % n);
    let mut walk = vec![acts::WAIT as f32; n];
    walk[walker] = acts::MOVES[2] as f32;
    play(&mut sim, &walk).unwrap();
    let mut kill = vec![acts::WAIT as f32; n];
    kill[imp] = acts::aim(n, victim) as f32;
    play(&mut sim, &kill).unwrap();
    let mut report = vec![acts::WAIT as f32; n];
    report[reporter] = acts::REPORT as f32;
    play(&mut sim, &report).unwrap();
    (sim, imp, victim, walker)
}

#[test]
fn a_meeting_talks_in_one_order_regroups_and_the_clock_runs_out_at_300() {
    // The report is played at the original's world time 5 (its first act is at 3), so the
    // discussion begins at 50; 4 living players say 8 messages in a round robin of one shuffled
    // order; the vote is at 69 and play resumes at 72, everyone back in room 0 with the kill
    // cooldown restarted; the clock's last step is 299: 228 more steps of play, then the
    // episode is truncated with no winner.
    let n = 5;
    let (mut sim, imp, victim, walker) = original_meeting(n);
    let mut speakers = Vec::new();
    for _ in 0..8 {
        let speaker = (0..n).find(|&a| mask(&sim, a)[1..].contains(&1)).unwrap();
        speakers.push(speaker);
        play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
    }
    assert_eq!(
        speakers[..4],
        speakers[4..],
        "one order, twice: {speakers:?}"
    );
    let mut once = speakers[..4].to_vec();
    once.sort();
    assert_eq!(once, (0..n).filter(|&a| a != victim).collect::<Vec<_>>());
    assert_eq!(stage(&sim, imp), 2, "then the vote");
    play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
    assert_eq!(alive(&sim, n, EVAL_ROOMS), n - 1, "every vote skipped");
    assert_eq!(
        row(&sim, walker)[obs::room(n, EVAL_ROOMS)],
        1.0,
        "back in room 0"
    );
    assert_eq!(
        row(&sim, imp)[obs::KILL_READY],
        0.0,
        "the cooldown restarted"
    );
    let mut played = 0;
    while !sim.env().is_done() {
        play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
        played += 1;
        if played == 1 {
            assert_eq!(row(&sim, imp)[obs::KILL_READY], 1.0, "ready after one step");
        }
    }
    assert_eq!(played, 228);
    let living: Vec<usize> = (0..n).filter(|&a| a != victim).collect();
    assert!(living.iter().all(|&a| sim.env().truncated()[a]));
    assert!(
        sim.env().metrics().mean(IMPOSTER_WIN).is_none(),
        "no winner"
    );
}

#[test]
fn an_ejection_win_pays_unfinished_tasks_and_a_loss_is_worth_nothing() {
    // A player may vote for itself; the ejection names no role; the crew's win pays +1 to every
    // crewmate (the dead one too) and each crewmate +1 task per task left (all 4: none were
    // done); the imposter's loss is no entry (the original's winners +1, losers 0).
    use socium::games::deduction::among_us::{TASK, WIN};
    let n = 5;
    let (mut sim, imp, victim, _) = original_meeting(n);
    for _ in 0..8 {
        play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
    }
    assert_eq!(
        mask(&sim, imp)[acts::aim(n, imp)],
        1,
        "a vote may name the voter"
    );
    let votes: Vec<f32> = (0..n)
        .map(|a| match a == victim {
            true => acts::WAIT as f32,
            false => acts::aim(n, imp) as f32,
        })
        .collect();
    play(&mut sim, &votes).unwrap();
    assert!(sim.env().is_done());
    assert_eq!(sim.env().metrics().mean(CREW_WIN), Some(1.0));
    let ejected = sim.env().utterances().last().unwrap();
    assert_eq!(ejected.act.kind, "ejected");
    let text = ejected.words();
    assert!(
        text.contains("ejected") && !text.contains("imposter"),
        "{text}"
    );
    let crew: Vec<(usize, f64)> = (0..n).filter(|&a| a != imp).map(|a| (a, 1.0)).collect();
    assert_eq!(entries(&sim, WIN.0), crew);
    let tasks: Vec<(usize, f64)> = (0..n).filter(|&a| a != imp).map(|a| (a, 4.0)).collect();
    assert_eq!(entries(&sim, TASK.0), tasks);
}

#[test]
fn the_training_preset_draws_the_grid_and_the_tasks_per_episode() {
    // `sarkar_train`: 3 × 1, 2 × 2 or 3 × 2 (told apart by the start room, the first row's
    // middle, and whether south leads anywhere), and 3 to 5 tasks, over 40 episodes.
    let n = 5;
    let (mut grids, mut tasks) = (Vec::new(), Vec::new());
    for seed in 0..40 {
        let text = format!(
            "[scenario]\nname = \"au\"\nseed = {seed}\n[game.among_us]\nrules = \
             \"sarkar_train\"\n[[agents]]\ncontroller = \"external\"\ncount = {n}\n"
        );
        let sim = Scenario::parse(&text, Path::new("au.toml"))
            .unwrap()
            .sim()
            .unwrap();
        let crewmate = (0..n)
            .find(|&a| row(&sim, a)[obs::IMPOSTER] == 0.0)
            .unwrap();
        let start = (0..6)
            .find(|&r| row(&sim, crewmate)[obs::room(n, 6) + r] == 1.0)
            .unwrap();
        let south = mask(&sim, crewmate)[acts::MOVES[1]] == 1;
        grids.push(match (start, south) {
            (1, false) => "3x1",
            (0, true) => "2x2",
            (1, true) => "3x2",
            other => panic!("no preset grid starts so: {other:?}"),
        });
        tasks.push((row(&sim, crewmate)[obs::OWN_TASKS] * 5.0).round() as u32);
    }
    for grid in ["3x1", "2x2", "3x2"] {
        assert!(grids.contains(&grid), "{grid} never drawn: {grids:?}");
    }
    for k in 3..=5 {
        assert!(tasks.contains(&k), "{k} tasks never dealt: {tasks:?}");
    }
    assert!(tasks.iter().all(|k| (3..=5).contains(k)));
}

#[test]
fn a_preset_is_the_base_its_keys_override_and_bad_settings_say_where() {
    let parse = |table: &str| {
        let text = format!(
            "[scenario]\nname = \"au\"\n[game.among_us]\n{table}\n[[agents]]\n\
             controller = \"external\"\ncount = 5\n"
        );
        Scenario::parse(&text, Path::new("au.toml")).map(|_| ())
    };
    let sim = original(5, "kill_cooldown = 0\nwidth = 3", 1);
    assert_eq!(sim.spaces().observation.flat_dim(), obs::dim(5, 6), "3 × 2");
    assert_eq!(
        row(&sim, imposter(&sim, 5))[obs::KILL_READY],
        1.0,
        "cooldown 0"
    );
    let err = parse("rules = \"sarkar\"").unwrap_err().to_string();
    assert!(
        err.contains("au.toml:4") && err.contains("sarkar_eval"),
        "{err}"
    );
    let err = parse("grids = [[4, 1]]").unwrap_err().to_string();
    assert!(
        err.contains("grid [4, 1]") && err.contains("3 × 2"),
        "{err}"
    );
    let err = parse("tasks = 2\nmin_tasks = 3").unwrap_err().to_string();
    assert!(
        err.contains("min_tasks = 3 is more than tasks = 2"),
        "{err}"
    );
    let err = parse("lose = nan").unwrap_err().to_string();
    assert!(err.contains("au.toml:4") && err.contains("finite"), "{err}");
}

#[test]
fn skips_as_many_as_the_top_count_eject_nobody_and_a_report_clears_the_bodies() {
    let n = 5;
    let (mut sim, imp, victim) = killed_and_reported(n, "messages = 0", 3);
    // The report cleared the body: nobody sees it.
    for a in (0..n).filter(|&a| a != victim) {
        assert_eq!(row(&sim, a)[obs::bodies(n, 1) + victim], 0.0, "{a}");
    }
    // Two votes for one crewmate, two skips: as many skips as the top count.
    let crew: Vec<usize> = (0..n).filter(|&a| a != imp && a != victim).collect();
    let mut votes = vec![acts::WAIT as f32; n];
    votes[imp] = acts::aim(n, crew[0]) as f32;
    votes[crew[1]] = acts::aim(n, crew[0]) as f32;
    play(&mut sim, &votes).unwrap();
    assert_eq!(alive(&sim, n, 1), n - 1, "nobody ejected");
    assert!(
        sim.env()
            .utterances()
            .iter()
            .all(|u| u.act.kind != "ejected")
    );
}

#[test]
fn scripted_imposters_kill_unseen_and_quiet_ones_say_nothing_and_skip() {
    // Both imposter scripts kill only a crewmate alone with them (no witnesses); `quiet` stays
    // silent in every discussion and skips every vote; `lying` speaks (a claim or an accusation
    // of a crewmate) every time.
    for play in ["quiet", "lying"] {
        let text = format!(
            "[scenario]\nname = \"au\"\nseed = 5\nepisodes = 100\nmax_steps = 200\n\
             [game.among_us]\nimposter = \"{play}\"\n[[agents]]\nstrategy = \"bayesian\"\n\
             count = 5\n[output]\ntranscript = true\n"
        );
        let s = Scenario::parse(&text, Path::new("au.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        socium::scenario::run(&s, dir.path(), |_| {}).unwrap();
        let transcript = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = transcript
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|l: &serde_json::Value| l["act"].is_object())
            .collect();
        // The imposter of each episode: the speaker of its kills.
        let mut imposter = std::collections::HashMap::new();
        let (mut kills, mut said) = (0, 0);
        for l in &lines {
            if l["act"]["kind"] == "kill" {
                assert_eq!(l["act"]["value"], 0.0, "{play}: a witnessed kill: {l}");
                imposter.insert(l["episode"].as_u64().unwrap(), l["speaker"].clone());
                kills += 1;
            }
        }
        for l in &lines {
            let episode = l["episode"].as_u64().unwrap();
            if imposter.get(&episode) != Some(&l["speaker"]) {
                continue;
            }
            let kind = l["act"]["kind"].as_str().unwrap();
            match (play, kind) {
                (_, "kill" | "believe" | "ejected") => {}
                ("quiet", "silent" | "skip") => said += 1,
                ("quiet", k) => panic!("quiet said {k}"),
                ("lying", "claim" | "accuse" | "vote") => said += 1,
                ("lying", "skip") => {}
                (_, k) => panic!("lying said {k}"),
            }
        }
        assert!(kills > 20, "{play}: {kills} kills");
        assert!(said > 20, "{play}: {said} messages and votes");
    }
}

#[test]
fn the_presets_hold_the_originals_settings() {
    // SocialDeductionLLM: src/validate_base.py evaluates `config = (2, 2, 4, 4)` (a 2 × 2 grid,
    // 4 tasks, 4 crewmates) with task time 3 and cooldown 5; src/buffer_generator_full.py
    // trains with `randomize` on 3 × 1, 2 × 2 or 3 × 2, 3 to 5 tasks, task time 3, cooldown 6;
    // both align meetings to 50 steps and stop at 300 (`collect_real_buffers`).
    use socium::games::deduction::among_us::{Preset, Start, Talk};
    let eval = Preset::SarkarEval.settings();
    assert_eq!(
        (
            eval.width.get(),
            eval.height.get(),
            eval.tasks.get(),
            eval.min_tasks
        ),
        (2, 2, 4, None)
    );
    assert_eq!((eval.task_steps.get(), eval.kill_cooldown), (3, 5));
    let train = Preset::SarkarTrain.settings();
    assert_eq!(train.grids, vec![[3, 1], [2, 2], [3, 2]]);
    assert_eq!(
        (train.tasks.get(), train.min_tasks.map(|m| m.get())),
        (5, Some(3))
    );
    assert_eq!((train.task_steps.get(), train.kill_cooldown), (3, 6));
    for rules in [eval, train] {
        assert!(rules.commit && rules.regroup && rules.self_vote && rules.speaker_in_pool);
        assert!(rules.ejection_pays_tasks && !rules.imposters_report && !rules.reveal_ejected);
        assert_eq!((rules.start, rules.talk), (Start::Fixed, Talk::Fixed));
        assert_eq!(
            (rules.lose.get(), rules.messages, rules.imposters.get()),
            (0.0, 2, 1)
        );
        assert_eq!((rules.meeting_every.get(), rules.time_limit), (50, 300));
    }
}

/// Scripted players play only what their mask allows, on a grid drawn per episode too (the
/// original's training preset, 1×3 to 2×3): a lying imposter claimed rooms of the largest grid,
/// which this episode's might not have.
#[test]
fn scripted_players_only_play_acts_their_mask_allows() {
    let text = "[scenario]\nname = \"au\"\nseed = 3\n[game.among_us]\nrules = \"sarkar_train\"\n\
                [[agents]]\nstrategy = \"bayesian\"\ncount = 5\n";
    let mut sim = Scenario::parse(text, Path::new("au.toml"))
        .unwrap()
        .sim()
        .unwrap();
    let (n, width) = (5, sim.spaces().action.flat_dim());
    let zeros = vec![0.0; n * width];
    let mut claims = 0;
    for seed in 0..40 {
        sim.reset(Some(seed));
        while !sim.env().is_done() {
            let masks: Vec<Vec<u8>> = (0..n).map(|a| mask(&sim, a).to_vec()).collect();
            let acting = sim.env().acting().to_vec();
            sim.step(&zeros).unwrap();
            for a in (0..n).filter(|&a| acting[a]) {
                let act = sim.env().actions()[a * width] as usize;
                assert_eq!(masks[a][act], 1, "seed {seed}: agent {a} played act {act}");
                claims += usize::from(
                    sim.env()
                        .utterances()
                        .iter()
                        .any(|u| u.speaker == AgentId(a as u32) && u.act.kind == "claim"),
                );
            }
        }
    }
    assert!(claims > 20, "only {claims} claims");
}

/// The roles the transcript names (`EnvView::roles`) are the deal: the imposter, as its own
/// observation says, and crewmates, dealt anew at every reset.
#[test]
fn the_roles_named_are_the_deal() {
    let mut sim = game(5, 3, 2, "");
    let mut imposters = std::collections::BTreeSet::new();
    for episode in 0..20 {
        let i = imposter(&sim, 5);
        imposters.insert(i);
        let expected: Vec<&str> = (0..5)
            .map(|a| if a == i { "imposter" } else { "crewmate" })
            .collect();
        assert_eq!(sim.env().roles(), expected, "episode {episode}");
        sim.reset(Some(episode));
    }
    assert!(imposters.len() > 1, "dealt anew: {imposters:?}");
}

/// A death is known to whom the original tells it (`StringAmogus.notify_death`, the bodies in
/// `get_room_player_description`, the living listed as a discussion begins): at once to the
/// bystanders who see the kill; to a worker at its task only once it looks up and sees the
/// body; to a player who walked away only when the meeting begins. Until then its `alive` block
/// shows the victim living and its share of the task win does not move (the dead crewmate's
/// tasks still count in it).
#[test]
fn a_death_is_known_to_bystanders_then_to_whoever_sees_the_body_then_to_all() {
    let n = 5;
    let (mut sim, worker) = with_task_at_start(n, "kill_cooldown = 1");
    let imp = imposter(&sim, n);
    let crew: Vec<usize> = (0..n).filter(|&a| a != imp && a != worker).collect();
    let (victim, leaver, idle) = (crew[0], crew[1], crew[2]);
    let knows = |sim: &Sim, a: usize| row(sim, a)[obs::alive(n, EVAL_ROOMS) + victim] == 0.0;
    let mut first = vec![acts::WAIT as f32; n];
    first[worker] = acts::TASK as f32;
    first[leaver] = acts::MOVES[2] as f32;
    play(&mut sim, &first).unwrap();
    let progress = |sim: &Sim, a: usize| row(sim, a)[obs::TASKS_DONE];
    let (worker_progress, leaver_progress) = (progress(&sim, worker), progress(&sim, leaver));
    let mut kill = vec![acts::WAIT as f32; n];
    kill[imp] = acts::aim(n, victim) as f32;
    play(&mut sim, &kill).unwrap();
    assert!(
        knows(&sim, idle) && knows(&sim, imp),
        "the bystander and the killer know"
    );
    assert!(
        !knows(&sim, worker) && !knows(&sim, leaver),
        "the others do not"
    );
    assert_eq!(progress(&sim, worker), worker_progress);
    assert_eq!(progress(&sim, leaver), leaver_progress);
    // The worker's task ends at step 3; at step 4 it sees its room again, and the body in it.
    play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
    assert!(!knows(&sim, worker), "still at work");
    play(&mut sim, &vec![acts::WAIT as f32; n]).unwrap();
    assert!(knows(&sim, worker), "the worker sees the body");
    assert!(!knows(&sim, leaver), "the leaver is in another room");
    // The bystander reports: the meeting lists the living to all.
    let mut report = vec![acts::WAIT as f32; n];
    report[idle] = acts::REPORT as f32;
    play(&mut sim, &report).unwrap();
    assert_eq!(stage(&sim, leaver), 1, "a discussion");
    assert!(knows(&sim, leaver), "the meeting tells everyone");
}
