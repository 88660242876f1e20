//! Discussion: the messages a speaker may say ([`Message`], decoded from acts, typed and rendered
//! for the transcript) and the record of what was said this discussion ([`Said`]), which every
//! player's observation shows.

use super::{acts, obs};
use socium_core::{Act, AgentId};

/// A discussion act, decoded from its action index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Message {
    /// Say nothing.
    Silent,
    /// "Player `j` is the imposter."
    Accuse(usize),
    /// "Player `j` is a crewmate."
    Vouch(usize),
    /// "I was in room `r` at the report."
    Claim(usize),
    /// "I saw player `j` in room `r` at the report."
    Saw(usize, usize),
    /// "I saw player `j` kill."
    SawKill(usize),
    /// The free text sent with the action.
    Say,
}

impl Message {
    /// The message act `act` says among `n` players and `rooms` rooms; `None` for the acts of play
    /// (moves, tasks, reports) and indices past the last act.
    pub(super) fn from_act(n: usize, rooms: usize, act: usize) -> Option<Message> {
        let claims = acts::claim(n, 0);
        let sightings = acts::saw(n, rooms, 0, 0);
        let kills = acts::saw_kill(n, rooms, 0);
        Some(match act {
            acts::WAIT => Message::Silent,
            1..=6 => return None,
            _ if act < acts::vouch(n, 0) => Message::Accuse(act - acts::aim(n, 0)),
            _ if act < claims => Message::Vouch(act - acts::vouch(n, 0)),
            _ if act < sightings => Message::Claim(act - claims),
            _ if act < kills => Message::Saw((act - sightings) / rooms, (act - sightings) % rooms),
            _ if act < acts::say(n, rooms) => Message::SawKill(act - kills),
            _ if act == acts::say(n, rooms) => Message::Say,
            _ => return None,
        })
    }

    /// The act, typed for the transcript: kind, target and a number (the room).
    pub(super) fn act(self) -> Act {
        let (kind, target, value) = match self {
            Message::Silent => ("silent", None, 0),
            Message::Accuse(j) => ("accuse", Some(j), 0),
            Message::Vouch(j) => ("vouch", Some(j), 0),
            Message::Claim(r) => ("claim", None, r),
            Message::Saw(j, r) => ("saw", Some(j), r),
            Message::SawKill(j) => ("saw_kill", Some(j), 0),
            Message::Say => ("say", None, 0),
        };
        Act {
            kind,
            target: target.map(|j| AgentId(j as u32)),
            value: value as f64,
        }
    }

    /// What `speaker` says, in words (`text` for free text); claims and sightings speak of
    /// `report_step`.
    pub(super) fn render(self, speaker: AgentId, text: &str, report_step: u32) -> String {
        let id = |j: usize| AgentId(j as u32);
        match self {
            Message::Silent => format!("{speaker} stays silent"),
            Message::Accuse(j) => format!("{speaker}: \"{} is the imposter.\"", id(j)),
            Message::Vouch(j) => format!("{speaker}: \"{} is a crewmate.\"", id(j)),
            Message::Claim(r) => {
                format!("{speaker}: \"I was in room {r} at step {report_step}.\"")
            }
            Message::Saw(j, r) => format!(
                "{speaker}: \"I saw {} in room {r} at step {report_step}.\"",
                id(j)
            ),
            Message::SawKill(j) => format!("{speaker}: \"I saw {} kill.\"", id(j)),
            Message::Say => format!("{speaker}: \"{text}\""),
        }
    }
}

/// What was said this discussion, and by whom.
#[derive(Debug)]
pub(super) struct Said {
    /// Players.
    n: usize,
    /// Rooms.
    rooms: usize,
    /// `accused[s · n + j]`: how often `s` accused `j`.
    accused: Vec<u32>,
    /// `vouched[s · n + j]`: how often `s` vouched for `j`.
    vouched: Vec<u32>,
    /// `reported[s · n + j]`: how often `s` said it saw `j` kill.
    reported: Vec<u32>,
    /// `claimed[j · rooms + r]`: player `j` claimed room `r`.
    claimed: Vec<bool>,
    /// `placed[j · rooms + r]`: someone said it saw player `j` in room `r`.
    placed: Vec<bool>,
}

impl Said {
    /// Nothing said yet, among `n` players and `rooms` rooms.
    pub(super) fn new(n: usize, rooms: usize) -> Self {
        Said {
            n,
            rooms,
            accused: vec![0; n * n],
            vouched: vec![0; n * n],
            reported: vec![0; n * n],
            claimed: vec![false; n * rooms],
            placed: vec![false; n * rooms],
        }
    }

    /// Forgets everything said (a new discussion).
    pub(super) fn clear(&mut self) {
        for counts in [&mut self.accused, &mut self.vouched, &mut self.reported] {
            counts.fill(0);
        }
        self.claimed.fill(false);
        self.placed.fill(false);
    }

    /// Notes `speaker`'s message.
    pub(super) fn note(&mut self, speaker: usize, message: Message) {
        let (n, rooms) = (self.n, self.rooms);
        match message {
            Message::Accuse(j) => self.accused[speaker * n + j] += 1,
            Message::Vouch(j) => self.vouched[speaker * n + j] += 1,
            Message::SawKill(j) => self.reported[speaker * n + j] += 1,
            Message::Claim(r) => self.claimed[speaker * rooms + r] = true,
            Message::Saw(j, r) => self.placed[j * rooms + r] = true,
            Message::Silent | Message::Say => {}
        }
    }

    /// Accusations of `j`, by anyone, counting repeats (the observation shows only who accused
    /// whom).
    pub(super) fn accusations_of(&self, j: usize) -> u32 {
        (0..self.n).map(|s| self.accused[s * self.n + j]).sum()
    }

    /// Writes the observation blocks of what was said into `row`.
    pub(super) fn observe(&self, row: &mut [f32]) {
        let (n, rooms) = (self.n, self.rooms);
        let said = |told: &mut dyn Iterator<Item = bool>, at: usize, row: &mut [f32]| {
            for (o, t) in row[at..].iter_mut().zip(told) {
                *o = f32::from(u8::from(t));
            }
        };
        for (counts, at) in [
            (&self.accused, obs::accusations(n, rooms)),
            (&self.vouched, obs::vouches(n, rooms)),
            (&self.reported, obs::kill_reports(n, rooms)),
        ] {
            said(&mut counts.iter().map(|&c| c > 0), at, row);
        }
        said(
            &mut self.claimed.iter().copied(),
            obs::claims(n, rooms),
            row,
        );
        said(
            &mut self.placed.iter().copied(),
            obs::sightings(n, rooms),
            row,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_act_decodes_to_its_message() {
        let (n, rooms) = (5, 6);
        assert_eq!(
            Message::from_act(n, rooms, acts::WAIT),
            Some(Message::Silent)
        );
        for act in [
            acts::TASK,
            acts::REPORT,
            acts::MOVES[0],
            acts::count(n, rooms),
        ] {
            assert_eq!(Message::from_act(n, rooms, act), None);
        }
        for j in 0..n {
            let decode = |act| Message::from_act(n, rooms, act);
            assert_eq!(decode(acts::aim(n, j)), Some(Message::Accuse(j)));
            assert_eq!(decode(acts::vouch(n, j)), Some(Message::Vouch(j)));
            assert_eq!(
                decode(acts::saw_kill(n, rooms, j)),
                Some(Message::SawKill(j))
            );
            for r in 0..rooms {
                assert_eq!(decode(acts::saw(n, rooms, j, r)), Some(Message::Saw(j, r)));
            }
        }
        for r in 0..rooms {
            assert_eq!(
                Message::from_act(n, rooms, acts::claim(n, r)),
                Some(Message::Claim(r))
            );
        }
        assert_eq!(
            Message::from_act(n, rooms, acts::say(n, rooms)),
            Some(Message::Say)
        );
        assert_eq!(acts::count(n, rooms), 59);
    }
}
