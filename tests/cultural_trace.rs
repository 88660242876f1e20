//! The trace a donor sees in the cultural donor game (Vallinder & Hughes 2024): the share its
//! recipient gave in its last round as donor, what that recipient's recipient gave the round
//! before, and so on, up to depth 3 and never past the start of the game — under the paper's
//! schedule (random pairs, strict alternation) and the released notebook's (a bipartite
//! rotation, aronvallinder/llm-donor-game, `Donor_Game_with_Cultural_Evolution.ipynb`, cells 10,
//! 11 and 14); and what a donor is told of the round.

use socium::core::{AgentId, Sim};
use socium::games::donor::cultural::obs;
use socium::scenario::Scenario;
use std::path::Path;

/// Moves are indexed give = 0, punish = 1, refuse = 2. Agent 0 punishes with half its resources,
/// agent 1 refuses, agents 2 and 3 give a quarter and three quarters.
fn planned(agent: usize) -> ([f32; 2], f32, bool) {
    match agent {
        0 => ([1.0, 0.5], -0.5, false),
        1 => ([2.0, 0.0], 0.0, true),
        2 => ([0.0, 0.25], 0.25, false),
        _ => ([0.0, 0.75], 0.75, false),
    }
}

#[test]
fn the_trace_walks_back_through_recipients() {
    let toml = "[scenario]\nname = \"trace\"\nseed = 9\n[game.donor_cultural]\nrounds = 6\n\
                games = 2\npunishment = true\nrefusal = true\n\
                [[agents]]\ncount = 4\ncontroller = \"external\"\n";
    let mut sim: Sim = Scenario::parse(toml, Path::new("trace.toml"))
        .unwrap()
        .sim()
        .unwrap();
    let dim = sim.spaces().observation.flat_dim();
    assert_eq!(dim, 4 + 3 * 3);
    let actions: Vec<f32> = (0..4).flat_map(|a| planned(a).0).collect();
    let mut checked_levels = [0; 3];
    // Whether the trace showed a gift, a punishment (negative share) and a refusal.
    let mut kinds_seen = [false; 3];
    for game in 0..2 {
        // history[round][agent] = (shown share, refused, recipient)
        let mut history: Vec<[Option<(f32, bool, usize)>; 4]> = Vec::new();
        for round in 0..6 {
            let before = sim.env().observations().to_vec();
            let acting = sim.env().acting().to_vec();
            sim.step(&actions).unwrap();
            let mut this_round = [None; 4];
            for u in sim.env().utterances() {
                let (d, r) = (u.speaker.index(), u.act.target.unwrap().index());
                let (_, shown, refused) = planned(d);
                this_round[d] = Some((shown, refused, r));
                let row = &before[d * dim..(d + 1) * dim];
                assert!(acting[d] && row[obs::DONOR] == 1.0);
                // Walk back from the recipient through the recorded rounds.
                let mut who = Some(r);
                for level in 0..3 {
                    let entry = &row[obs::TRACE + 3 * level..obs::TRACE + 3 * level + 3];
                    let seen = who
                        .filter(|_| level < round)
                        .and_then(|w| history[round - 1 - level][w]);
                    match seen {
                        Some((shown, refused, next)) => {
                            assert_eq!(
                                entry,
                                [shown, refused as u8 as f32, 1.0],
                                "game {game} round {round} level {level}"
                            );
                            checked_levels[level] += 1;
                            kinds_seen[(shown < 0.0) as usize] |= true;
                            kinds_seen[2] |= refused;
                            who = Some(next);
                        }
                        None => {
                            assert_eq!(entry, [0.0; 3], "game {game} round {round} level {level}");
                            who = None;
                        }
                    }
                }
            }
            // Roles alternate: this round's donors are last round's recipients.
            if let Some(last) = history.last() {
                for a in 0..4 {
                    assert_eq!(this_round[a].is_some(), last[a].is_none(), "round {round}");
                }
            }
            history.push(this_round);
        }
    }
    // Every level was seen with a real donation (depth 0 in round 1, 1 in round 2, ...).
    assert!(checked_levels.iter().all(|&n| n > 0), "{checked_levels:?}");
    assert_eq!(kinds_seen, [true; 3]);
    // Round 0 of each game saw no trace (checked above with `level < round`): traces reset
    // between games, and the episode ends after the second.
    assert!(sim.env().is_done());
}

/// Who gave whom what in one round: `given[donor] = Some((share, recipient))`.
type Round = Vec<Option<(f32, usize)>>;

/// Plays one episode of 12 agents under `schedule = "notebook"` on `graph` (a scenario's graph
/// table, or empty for the complete graph) with traces `depth` deep, agent `a` giving the share `(a + 1) / 16` every time it donates;
/// returns each step's donations and each step's observation rows from before it.
fn notebook_episode(graph: &str, depth: usize) -> (Vec<Round>, Vec<Vec<f32>>, usize) {
    let toml = format!(
        "[scenario]\nname = \"notebook\"\nseed = 5\n{graph}\n[game.donor_cultural]\n\
         schedule = \"notebook\"\ntrace_depth = {depth}\n\
         [[agents]]\ncount = 12\ncontroller = \"external\"\n"
    );
    let mut sim: Sim = Scenario::parse(&toml, Path::new("notebook.toml"))
        .unwrap()
        .sim()
        .unwrap();
    let dim = sim.spaces().observation.flat_dim();
    let actions: Vec<f32> = (0..12).map(|a| (a + 1) as f32 / 16.0).collect();
    let (mut rounds, mut seen) = (Vec::new(), Vec::new());
    while !sim.env().is_done() {
        seen.push(sim.env().observations().to_vec());
        sim.step(&actions).unwrap();
        let mut given = vec![None; 12];
        for u in sim.env().utterances() {
            let d = u.speaker.index();
            given[d] = Some((actions[d], u.act.target.unwrap().index()));
        }
        rounds.push(given);
    }
    (rounds, seen, dim)
}

/// The notebook's rule (cell 10 `bipartiteRoundRobin`, cell 11 `extendRounds`, cell 14
/// `donorGame`), with `h` agents a half and rounds `t = 0 … 2h − 1` of a game: `A_j` meets
/// `B_((j − t) mod h)`; in the first game A donates when `t mod h` is even in the first `h`
/// rounds and the roles of round `t − h` reverse in the last `h`; the second game swaps every
/// pair.
fn a_donates(h: usize, game: usize, t: usize) -> bool {
    ((t % h).is_multiple_of(2) != (t >= h)) == game.is_multiple_of(2)
}

#[test]
fn the_notebook_schedule_rotates_pairs_across_the_halves_for_12_agents() {
    let (rounds, _, _) = notebook_episode("", 3);
    let (n, h) = (12, 6);
    assert_eq!(rounds.len(), 2 * n, "two games of as many rounds as agents");
    // Name the agents as the rule does, from what was played: A the first round's donors, A_0
    // the lowest of them and B_0 its partner; then A_j meets B_(j − 1) in round 1, and B_j is
    // A_j's partner in round 0. (The rule is the same under a rotation of both halves, so which
    // A is A_0 does not matter.)
    let partner = |t: usize, x: usize| -> usize {
        let r: &Round = &rounds[t];
        match r[x] {
            Some((_, y)) => y,
            None => (0..n).find(|&d| r[d].is_some_and(|(_, y)| y == x)).unwrap(),
        }
    };
    let in_a: Vec<bool> = rounds[0].iter().map(Option::is_some).collect();
    assert_eq!(in_a.iter().filter(|&&a| a).count(), h);
    let mut a = vec![in_a.iter().position(|&x| x).unwrap()];
    let mut b = vec![partner(0, a[0])];
    for j in 1..h {
        let next = (0..n)
            .find(|&x| in_a[x] && partner(1, x) == b[j - 1])
            .unwrap();
        a.push(next);
        b.push(partner(0, next));
    }
    let mut halves = String::new();
    for (step, played) in rounds.iter().enumerate() {
        let (game, t) = (step / n, step % n);
        let donors_a = a_donates(h, game, t);
        halves.push(if donors_a { 'A' } else { 'B' });
        let mut expected: Round = vec![None; n];
        for j in 0..h {
            let (x, y) = (a[j], b[(j + h - t % h) % h]);
            let (donor, recipient) = if donors_a { (x, y) } else { (y, x) };
            expected[donor] = Some(((donor + 1) as f32 / 16.0, recipient));
        }
        assert_eq!(played, &expected, "game {game}, round {t}");
    }
    // The donor halves the notebook plays with 12 agents: the same half twice at rounds 6 and 7
    // of a game (1-based), and the second game the mirror of the first.
    assert_eq!(halves, "ABABABBABABABABABAABABAB");
    // Every ordered pair across the halves meets exactly once a game.
    for game in 0..2 {
        let mut pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|t| {
                let r = &rounds[game * n + t];
                (0..n).filter_map(move |d| r[d].map(|(_, y)| (d, y)))
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        assert_eq!(pairs.len(), 2 * h * h, "game {game}");
        assert!(pairs.iter().all(|&(d, r)| in_a[d] != in_a[r]));
    }
}

/// What [`walk_notebook_traces`] met: a trace that reached back past a doubled round, and
/// traces cut short by an agent that sat out its last round as donor.
struct Walked {
    skipped_a_round: bool,
    cut_short: usize,
}

/// Checks every donor's trace (`depth` levels) against a walk back through the episode: the
/// recipient's donation in the last round its half donated, that donation's recipient's in the
/// last round before, and so on, ending at an agent that sat that round out (its partner in the
/// rotation not a neighbour) or at the start of the game.
fn walk_notebook_traces(rounds: &[Round], seen: &[Vec<f32>], dim: usize, depth: usize) -> Walked {
    let (n, h) = (12, 6);
    // An agent's half, from any round it donated or received in.
    let mut in_a = vec![None; n];
    for (step, played) in rounds.iter().enumerate() {
        let a_turn = a_donates(h, step / n, step % n);
        for (d, given) in played.iter().enumerate() {
            if let Some((_, r)) = given {
                in_a[d] = Some(a_turn);
                in_a[*r] = Some(!a_turn);
            }
        }
    }
    let mut walked = Walked {
        skipped_a_round: false,
        cut_short: 0,
    };
    for (step, played) in rounds.iter().enumerate() {
        let (game, t) = (step / n, step % n);
        let this_game = &rounds[game * n..step];
        for (d, given) in played.iter().enumerate() {
            let Some((_, r)) = given else { continue };
            let row = &seen[step][d * dim..(d + 1) * dim];
            let (mut who, mut before) = (Some(*r), t);
            for level in 0..depth {
                let entry = &row[obs::TRACE + 3 * level..obs::TRACE + 3 * level + 3];
                let last = who.and_then(|w| {
                    let at = (0..before)
                        .rev()
                        .find(|&u| Some(a_donates(h, game, u)) == in_a[w])?;
                    walked.cut_short += this_game[at][w].is_none() as usize;
                    Some((at, this_game[at][w]?))
                });
                match last {
                    Some((at, (share, next))) => {
                        assert_eq!(entry, [share, 0.0, 1.0], "step {step} level {level}");
                        walked.skipped_a_round |= at + 1 < before;
                        (who, before) = (Some(next), at);
                    }
                    None => {
                        assert_eq!(entry, [0.0; 3], "step {step} level {level}");
                        who = None;
                    }
                }
            }
        }
    }
    walked
}

#[test]
fn under_the_notebook_schedule_the_trace_shows_each_recipients_last_donation() {
    // The notebook (cells 13–16) shows the recipient's last donation, that donation's
    // recipient's last donation before it, and so on: with a half donating twice in a row, the
    // last donation is not always the round before.
    let (rounds, seen, dim) = notebook_episode("", 3);
    let walked = walk_notebook_traces(&rounds, &seen, dim, 3);
    assert!(
        walked.skipped_a_round,
        "no trace reached back past a doubled round"
    );
    // On the complete graph every donor meets its partner.
    assert_eq!(walked.cut_short, 0);
}

/// On a sparse graph a donor whose partner in the rotation is not a neighbour sits the round
/// out, and a trace that reaches it there ends, however deep the trace.
#[test]
fn a_donor_that_sat_out_ends_the_trace() {
    let (rounds, seen, dim) = notebook_episode("[graph.erdos_renyi]\np = 0.5", 8);
    let walked = walk_notebook_traces(&rounds, &seen, dim, 8);
    assert!(
        walked.cut_short > 0,
        "no trace reached a donor that sat out"
    );
    assert!(walked.skipped_a_round);
}

#[test]
fn a_donor_may_be_kept_from_seeing_the_round() {
    let play = |show: bool| {
        let toml = format!(
            "[scenario]\nname = \"round\"\n[game.donor_cultural]\nshow_round = {show}\n\
             [[agents]]\ncount = 4\nstrategy = \"fixed\"\n"
        );
        let scenario = Scenario::parse(&toml, Path::new("round.toml")).unwrap();
        let mut sim = scenario.sim().unwrap();
        let dim = sim.spaces().observation.flat_dim();
        let mask_dim = sim.spaces().action.mask_dim();
        let (mut progress, mut told) = (Vec::new(), Vec::new());
        while !sim.env().is_done() {
            let (obs, masks) = (sim.env().observations(), sim.env().action_masks());
            let acting = sim.env().acting();
            for a in (0..4).filter(|&a| acting[a]) {
                let row = &obs[a * dim..(a + 1) * dim];
                progress.push(row[obs::PROGRESS]);
                let mask = &masks[a * mask_dim..(a + 1) * mask_dim];
                let prompt = scenario.game.prompt(4, AgentId(a as u32), row, mask);
                told.push(prompt.situation.contains("Round"));
            }
            sim.step(&[0.0; 4]).unwrap();
        }
        (progress, told)
    };
    let (progress, told) = play(true);
    assert!(progress.iter().any(|&p| p > 0.0) && told.iter().all(|&t| t));
    // Hidden: entry 3 is always 0, and the prompt never names the round or the horizon.
    let (progress, told) = play(false);
    assert!(progress.iter().all(|&p| p == 0.0) && told.iter().all(|&t| !t));
}
