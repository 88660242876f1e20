//! The trace a donor sees in the cultural donor game (Vallinder & Hughes 2024): the share its
//! recipient gave in its last round as donor, what that recipient's recipient gave the round
//! before, and so on, up to depth 3 and never past the start of the game.

use socium::core::Sim;
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
