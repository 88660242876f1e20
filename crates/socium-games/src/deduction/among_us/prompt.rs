//! The game in words, for an agent that reads (a language model), rendered from its observation
//! row and action mask: the rules and its role (crewmate, or imposter with its team), the stage,
//! its room and tasks (or its kill), who and which bodies it sees, the kills it witnessed, what
//! was said in the discussion (who accused, vouched for, claimed and placed whom; the row keeps no
//! order of speaking), its last belief, and every legal act in words. The belief the agent states
//! with its act is described by the answer format, so the prompt has no `amount`.

use super::{
    Settings, acts, obs,
    rules::{STAGES, Stage},
    talk::Message,
};
use crate::deduction::{Talk, players, times};
use socium_core::{AgentId, Prompt};
use std::fmt::Write as _;

/// The moves' directions, in the order of [`acts::MOVES`].
const DIRECTIONS: [&str; 4] = ["north", "south", "east", "west"];

/// Player `agent`'s prompt among `n` players, from its observation row and action mask.
pub(super) fn render(
    config: &Settings,
    n: usize,
    agent: AgentId,
    row: &[f32],
    mask: &[u8],
) -> Prompt {
    let rooms = config.rooms();
    let flag = |at: usize| row[at] > 0.5;
    let set = |at: usize, len: usize| (0..len).filter(move |&k| flag(at + k));
    let me = agent.index();
    let imposter = flag(obs::IMPOSTER);
    let stage = STAGES[set(obs::STAGE, STAGES.len()).next().unwrap_or(0)];
    let room = set(obs::room(n, rooms), rooms).next().unwrap_or(0);
    let (w, h) = (config.width.get(), config.height.get());
    let m = config.imposters.get();

    let grid = match config.grids.as_slice() {
        [] => format!("a grid of {w} × {h} rooms"),
        grids => {
            let sizes: Vec<String> = grids.iter().map(|[x, y]| format!("{x} × {y}")).collect();
            format!(
                "a grid of rooms drawn for each game from {} and laid in the north-west corner \
                 of a {w} × {h} grid",
                sizes.join(", ")
            )
        }
    };
    let steps = config.task_steps.get();
    let pace = match config.commit {
        true => format!(
            "Each crewmate has {} tasks, each in a given room. Doing a task, or moving to the next \
             room, keeps a player busy for {steps} steps, during which it sees nothing of the \
             rooms (a mover sees a kill in the room it enters) and does not act; it acts again \
             the step after. A meeting cancels a task begun.",
            config.tasks.get()
        ),
        false => format!(
            "Each crewmate has {} tasks, each in a given room and taking {steps} steps of \"do \
             task\" there.",
            config.tasks.get()
        ),
    };
    let mut rules = format!(
        "You play an Among Us-style game with {n} players, player 0 to player {}, on {grid} \
         numbered 0 to {} row by row from the north-west corner (north is up a row, east is \
         right). {} {pace}\nWhile the game is in play, every living player who is not busy acts \
         at once each step: move north, south, east or west, do a task, report a body in its \
         room{}, or wait; an imposter may instead kill a crewmate in its room (or walking into \
         or out of it) once {} steps have passed since the game began, its last kill{}, and \
         everyone else in the room{} sees the kill. A report clears the bodies and ",
        n - 1,
        rooms - 1,
        match m {
            1 => "One player is the imposter; the others are crewmates, who do not know which \
                  player it is."
                .to_owned(),
            _ => format!(
                "{m} players are imposters, who know each other; the others are crewmates, who \
                 do not know who they are."
            ),
        },
        if config.imposters_report {
            ""
        } else {
            " (crewmates only)"
        },
        config.kill_cooldown,
        if config.regroup {
            " or the last meeting"
        } else {
            ""
        },
        if config.commit {
            " who is not at a task"
        } else {
            ""
        },
    );
    match config.messages {
        0 => rules.push_str("calls a vote"),
        k => {
            write!(
                rules,
                "starts a discussion: the living players speak in turn, {} each in a {}, to \
                 accuse a player of being the imposter, vouch for one, say which \
                 room they were in at the report, say they saw a player in a room at the report, \
                 say they saw a player kill",
                times(k),
                match config.talk {
                    Talk::Reshuffled => "round robin shuffled each round",
                    Talk::Fixed => "round robin of one shuffled order",
                }
            )
            .expect("writing to a String");
            if config.free_text > 0 {
                write!(
                    rules,
                    ", say up to {} characters in their own words (those allowed to)",
                    config.free_text
                )
                .expect("writing to a String");
            }
            rules.push_str(", or stay silent. Then comes a vote");
        }
    }
    write!(
        rules,
        ": everyone living votes to eject a player{} or skips, and a player with more votes \
         than any other and than the skips is ejected{}.{} The crewmates win when every imposter \
         is ejected or every living crewmate's task is done; the imposters win when they are at \
         least as many as the crewmates. With every act each player states its belief: how \
         likely each player is to be the imposter.",
        if config.self_vote {
            " (itself included)"
        } else {
            ""
        },
        if config.reveal_ejected {
            " and its role announced"
        } else {
            ""
        },
        match config.regroup {
            true => format!(" Then everyone returns to {}.", start_room(config)),
            false => String::new(),
        },
    )
    .expect("writing to a String");
    match imposter {
        true => {
            write!(rules, "\nYou are player {me}, an imposter").expect("writing to a String");
            let n_team = set(obs::team(n, rooms), n).filter(|&j| j != me);
            if let Some(team) = players(n_team) {
                write!(rules, " with {team}").expect("writing to a String");
            }
            rules.push_str(
                ": you have no tasks. Kill crewmates without being caught and escape the vote.",
            );
        }
        false => write!(
            rules,
            "\nYou are player {me}, a crewmate: do your tasks, and find and eject the imposters."
        )
        .expect("writing to a String"),
    }

    let alive = |j: usize| flag(obs::alive(n, rooms) + j);
    let speaking = mask.iter().skip(1).any(|&m| m != 0);
    let mut s = String::new();
    if !alive(me) {
        s.push_str("You are dead: the game goes on without you.\n");
    }
    s.push_str(match stage {
        Stage::Play => "The game is in play.",
        Stage::Discussion if speaking => "A body was reported: it is your turn to speak.",
        Stage::Discussion => "A body was reported: another player speaks.",
        Stage::Vote => "The discussion is over: vote to eject a player, or skip.",
    });
    write!(s, "\nYou are in room {room}.").expect("writing to a String");
    if imposter {
        s.push_str(match flag(obs::KILL_READY) {
            true => " Your kill is ready.",
            false => " Your kill is not ready yet.",
        });
    } else {
        let left = (row[obs::OWN_TASKS] * config.tasks.get() as f32).round();
        let at: Vec<String> = set(obs::task_rooms(n, rooms), rooms)
            .map(|r| r.to_string())
            .collect();
        match at.len() {
            0 => write!(s, " You have done all your tasks."),
            k => write!(
                s,
                " You have {left} of your {} tasks left, in room{} {}.",
                config.tasks.get(),
                if k == 1 { "" } else { "s" },
                at.join(", ")
            ),
        }
        .expect("writing to a String");
    }
    write!(
        s,
        " The crewmates have done {:.0}% of all their task steps.",
        100.0 * row[obs::TASKS_DONE]
    )
    .expect("writing to a String");
    match players(set(obs::here(n, rooms), n).filter(|&j| j != me)) {
        Some(here) => write!(s, "\nAlso here: {here}."),
        None => write!(s, "\nNobody else is here."),
    }
    .expect("writing to a String");
    let passing = (0..n).filter(|&j| row[obs::here(n, rooms) + j] == obs::PASSING);
    if let Some(passing) = players(passing) {
        write!(s, " Walking in or out: {passing}.").expect("writing to a String");
    }
    if let Some(bodies) = players(set(obs::bodies(n, rooms), n)) {
        write!(s, " Bodies here: {bodies}.").expect("writing to a String");
    }
    if let Some(killers) = players(set(obs::witnessed(n, rooms), n)) {
        write!(s, "\nYou saw {killers} kill.").expect("writing to a String");
    }
    if let Some(living) = players((0..n).filter(|&j| alive(j))) {
        write!(s, "\nAlive, as far as you know: {living}.").expect("writing to a String");
    }
    if let Some(dead) = players((0..n).filter(|&j| !alive(j))) {
        write!(s, " Dead or ejected: {dead}.").expect("writing to a String");
    }
    let said = said(n, rooms, row);
    if !said.is_empty() {
        let when = match stage {
            Stage::Play => "In the last discussion",
            _ => "So far in this discussion",
        };
        write!(s, "\n{when}: {}.", said.join("; ")).expect("writing to a String");
    }
    let belief: Vec<String> = (0..n)
        .map(|j| format!("player {j} {:.0}%", 100.0 * row[obs::belief(n, rooms) + j]))
        .collect();
    write!(
        s,
        "\nYour belief so far that each player is the imposter: {}. With your act, state your \
         belief now: a weight for each player, how likely it is the imposter.",
        belief.join(", ")
    )
    .expect("writing to a String");

    let acts = Prompt::legal_acts(acts::count(n, rooms), mask, |a| {
        describe(config, n, a, stage, room, speaking)
    });
    Prompt {
        rules,
        situation: s,
        acts,
        amount: None,
    }
}

/// What the row shows of the discussion's messages, each in words.
fn said(n: usize, rooms: usize, row: &[f32]) -> Vec<String> {
    let flag = |at: usize| row[at] > 0.5;
    let mut said = Vec::new();
    for s in 0..n {
        for (at, before, after) in [
            (obs::accusations(n, rooms), "said", "is the imposter"),
            (obs::vouches(n, rooms), "said", "is a crewmate"),
            (obs::kill_reports(n, rooms), "said it saw", "kill"),
        ] {
            for j in (0..n).filter(|&j| flag(at + s * n + j)) {
                said.push(format!("player {s} {before} player {j} {after}"));
            }
        }
    }
    for j in 0..n {
        for r in 0..rooms {
            if flag(obs::claims(n, rooms) + j * rooms + r) {
                said.push(format!("player {j} said it was in room {r} at the report"));
            }
            if flag(obs::sightings(n, rooms) + j * rooms + r) {
                said.push(format!(
                    "someone said they saw player {j} in room {r} at the report"
                ));
            }
        }
    }
    said
}

/// The start room in words: the middle (rounded down) of the first row of the game's grid, which
/// a row cannot tell when each game draws its grid from `grids`: then the room for each size.
fn start_room(config: &Settings) -> String {
    if config.grids.is_empty() {
        return format!("room {}", config.start_room(config.full_grid()));
    }
    let mut rooms: Vec<(usize, Vec<String>)> = Vec::new();
    for &grid in &config.grids {
        let (room, size) = (
            config.start_room(grid),
            format!("{} × {}", grid[0], grid[1]),
        );
        match rooms.iter_mut().find(|(r, _)| *r == room) {
            Some((_, sizes)) => sizes.push(size),
            None => rooms.push((room, vec![size])),
        }
    }
    let each: Vec<String> = (rooms.iter())
        .map(|(room, sizes)| format!("room {room} on a {} grid", sizes.join(" or ")))
        .collect();
    format!(
        "the middle of the first row of the game's grid: {}",
        each.join(", ")
    )
}

/// Act `act` in words, at `stage`, for a player in `room` (`speaking`: its turn in a discussion).
fn describe(
    config: &Settings,
    n: usize,
    act: usize,
    stage: Stage,
    room: usize,
    speaking: bool,
) -> String {
    let rooms = config.rooms();
    match stage {
        Stage::Play => match act {
            acts::WAIT => "wait".into(),
            1..=4 => match config.neighbour(config.full_grid(), room, act - 1) {
                Some(to) => format!("move {} to room {to}", DIRECTIONS[act - 1]),
                None => format!("move {}", DIRECTIONS[act - 1]),
            },
            acts::TASK => format!("do a task here in room {room}"),
            acts::REPORT => "report the body here".into(),
            _ => match acts::aimed(n, act) {
                Some(j) => format!("kill player {j}"),
                None => format!("act {act}"),
            },
        },
        Stage::Discussion => match Message::from_act(n, rooms, act) {
            Some(Message::Silent) if speaking => "stay silent".into(),
            Some(Message::Silent) => "listen".into(),
            Some(Message::Accuse(j)) => {
                format!("accuse player {j}: \"player {j} is the imposter\"")
            }
            Some(Message::Vouch(j)) => {
                format!("vouch for player {j}: \"player {j} is a crewmate\"")
            }
            Some(Message::Claim(r)) => format!("say \"I was in room {r} at the report\""),
            Some(Message::Saw(j, r)) => {
                format!("say \"I saw player {j} in room {r} at the report\"")
            }
            Some(Message::SawKill(j)) => format!("say \"I saw player {j} kill\""),
            Some(Message::Say) => "say something in your own words (the text you give)".into(),
            None => format!("act {act}"),
        },
        Stage::Vote => match acts::aimed(n, act) {
            Some(j) => format!("vote to eject player {j}"),
            None if act == acts::WAIT => "skip the vote".into(),
            None => format!("act {act}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_players_situation_from_the_row() {
        let config = super::super::Preset::Socium.settings();
        let (n, rooms) = (5, config.rooms());
        // Player 1, a crewmate in room 4, speaks in a discussion: player 0 is dead, player 2
        // is here, player 1 saw player 3 kill, player 2 accused player 3 and claimed room 4.
        let mut row = vec![0.0; obs::dim(n, rooms)];
        row[obs::STAGE + 1] = 1.0;
        row[obs::TASKS_DONE] = 0.5;
        row[obs::OWN_TASKS] = 2.0 / 3.0;
        row[obs::room(n, rooms) + 4] = 1.0;
        row[obs::task_rooms(n, rooms) + 4] = 1.0;
        row[obs::task_rooms(n, rooms) + 5] = 1.0;
        row[obs::me(n, rooms) + 1] = 1.0;
        for j in 1..n {
            row[obs::alive(n, rooms) + j] = 1.0;
            row[obs::belief(n, rooms) + j] = 0.25;
        }
        row[obs::here(n, rooms) + 1] = 1.0;
        row[obs::here(n, rooms) + 2] = 1.0;
        row[obs::witnessed(n, rooms) + 3] = 1.0;
        row[obs::accusations(n, rooms) + 2 * n + 3] = 1.0;
        row[obs::claims(n, rooms) + 2 * rooms + 4] = 1.0;
        let mut mask = vec![0u8; acts::count(n, rooms)];
        for act in [
            acts::WAIT,
            acts::aim(n, 3),
            acts::claim(n, 4),
            acts::saw(n, rooms, 3, 4),
            acts::saw_kill(n, rooms, 3),
        ] {
            mask[act] = 1;
        }
        let p = render(&config, n, AgentId(1), &row, &mask);
        assert!(
            p.rules.contains("You are player 1, a crewmate"),
            "{}",
            p.rules
        );
        for said in [
            "A body was reported: it is your turn to speak.",
            "You are in room 4. You have 2 of your 3 tasks left, in rooms 4, 5.",
            "done 50% of all their task steps",
            "Also here: player 2.",
            "You saw player 3 kill.",
            "Dead or ejected: player 0.",
            "So far in this discussion: player 2 said player 3 is the imposter; player 2 said it \
             was in room 4 at the report.",
            "player 0 0%, player 1 25%",
            "state your belief",
        ] {
            assert!(p.situation.contains(said), "{said:?} in {}", p.situation);
        }
        let words: Vec<&str> = p.acts.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            words,
            [
                "stay silent",
                "accuse player 3: \"player 3 is the imposter\"",
                "say \"I was in room 4 at the report\"",
                "say \"I saw player 3 in room 4 at the report\"",
                "say \"I saw player 3 kill\"",
            ]
        );
        assert_eq!(p.amount, None);
        // At play, from room 4 of the 3 × 2 grid (bottom middle): moves name their rooms.
        row[obs::STAGE + 1] = 0.0;
        row[obs::STAGE] = 1.0;
        let mut mask = vec![0u8; acts::count(n, rooms)];
        for act in [acts::MOVES[0], acts::MOVES[3], acts::TASK] {
            mask[act] = 1;
        }
        let p = render(&config, n, AgentId(1), &row, &mask);
        let words: Vec<&str> = p.acts.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            words,
            [
                "move north to room 1",
                "move west to room 3",
                "do a task here in room 4"
            ]
        );
        assert!(p.situation.contains("In the last discussion"));
    }

    #[test]
    fn the_regroup_room_is_the_games_grids_start_room() {
        let one = Settings {
            regroup: true,
            ..super::super::Preset::Socium.settings()
        };
        assert_eq!(start_room(&one), "room 1");
        // Each game draws its grid: the start room is the middle of that grid's first row, room
        // 0 on the 2 × 2 grid, where the game regroups players (`rules.rs`, `start_room(grid)`).
        let drawn = Settings {
            regroup: true,
            ..super::super::Preset::SarkarTrain.settings()
        };
        assert_eq!(
            start_room(&drawn),
            "the middle of the first row of the game's grid: room 1 on a 3 × 1 or 3 × 2 grid, \
             room 0 on a 2 × 2 grid"
        );
        let (n, rooms) = (5, drawn.rooms());
        let p = render(&drawn, n, AgentId(0), &vec![0.0; obs::dim(n, rooms)], &[]);
        let said = format!("Then everyone returns to {}.", start_room(&drawn));
        assert!(p.rules.contains(&said), "{}", p.rules);
    }
}
