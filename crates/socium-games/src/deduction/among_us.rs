//! An Among Us-style game: crewmates do tasks on a grid of rooms while hidden imposters kill them.
//!
//! Rules after Sarkar et al. (2025, "Training Language Models for Social Deduction with
//! Multi-Agent Reinforcement Learning", AAMAS; their environment's defaults): a grid of rooms
//! (`width × height`, default 3 × 2), players (default 5) of whom `imposters` (default 1) are
//! imposters, every crewmate has `tasks` tasks (default 3) in random rooms, each taking
//! `task_steps` steps (default 3) of "do task" in its room. Each step of play every living player
//! acts at once: move north, south, east or west, do a task, report a body in its room, or wait;
//! an imposter may instead kill a player in its room once `kill_cooldown` steps (default 5) have
//! passed since the game began or its last kill. Everyone else in the room witnesses the kill.
//! A report starts a discussion: the living players speak in a shuffled round robin, `messages`
//! times each (default 2): accuse a player, vouch for one, claim "I was in room r", report "I saw
//! player j in room r" (claims and sightings speak of the step of the report), report "I saw
//! player j kill", say free text (where the scenario allows it: `free_text`, the longest message
//! in characters, kept verbatim), or stay silent. Then everyone votes for a player or skips; a plurality ejects the
//! player, a tie (or a plurality of skips) ejects nobody. Bodies are cleared after a report. The
//! crewmates win when every imposter is ejected or every task is done; the imposters win when they
//! are at least as many as the crewmates. An episode longer than the scenario's `max_steps` is
//! truncated.
//!
//! Beliefs, after the paper: every player holds a belief, a probability over who the imposter is,
//! and states it with every action. Scripted players' beliefs are the game's Bayesian posteriors
//! (see [`model`]); external and policy players supply theirs, and the game keeps what they
//! supplied last. The *listening* reward of a message is each living crewmate listener's
//! log-probability of the true imposters after it; the *speaking* reward is the change across it
//! in the summed probability that the living crewmates other than the speaker give the true
//! imposters (negated for an imposter speaker). Both are known once the listeners have answered,
//! so they settle at the step after the message (every living player acts at every step of a
//! discussion and at the vote), as reward entries naming the message — or at the message's own
//! step, on the beliefs as they stand, when the step limit truncates the episode there.
//!
//! Differences from the paper: messages are typed acts with rendered text rather than free
//! language, and players start in random rooms.
//!
//! The action of `n` players is `Tuple(Discrete(acts::count(n, rooms)), Simplex(n))`, and
//! `Text(free_text)` after them where free text is allowed: an act, a belief and the text. Acts
//! (see [`acts`]): wait / stay silent / skip the vote; move north, south, east, west; do a task;
//! report a body; aim at player `j` (kill during play, accuse in discussion, vote); vouch for `j`;
//! claim room `r`; saw `j` in room `r`; saw `j` kill; say the text. The mask says which acts are
//! legal for whom at each step: in a discussion the players who are not speaking may only wait.
//! The belief, `n` probabilities summing to 1, gives player `j`'s chance to be an imposter.

use super::pick;
use bevy_ecs::prelude::*;
use rand::{Rng, seq::SliceRandom};
use serde::Deserialize;
use socium_core::{
    Act, ActionMasks, Actions, AgentId, AgentSpec, Agents, Audience, Clock, Controller, DimId,
    DimensionInfo, Done, EnvAgents, GameBuilder, MetricId, MetricInfo, Metrics, Observations,
    Phase, Resetting, RewardLedger, Rules, SimRng, Space, Stepping, StrategyChoice, StrategyInfo,
    Texts, Turn, UtteranceId, Utterances, bounded::Count,
};

/// Settings of `[game.among_us]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AmongUsConfig {
    /// Rooms per row of the grid.
    pub width: Count,
    /// Rows of the grid.
    pub height: Count,
    /// Imposters (fewer than the crewmates).
    pub imposters: Count,
    /// Tasks per crewmate.
    pub tasks: Count,
    /// Steps of "do task" each task takes.
    pub task_steps: Count,
    /// Steps an imposter waits between kills (and before the first).
    pub kill_cooldown: u32,
    /// Messages each living player says per discussion.
    pub messages: u32,
    /// How scripted imposters play.
    pub imposter: ImposterPlay,
    /// The longest free-text message an outside player may say in a discussion, in characters;
    /// 0 allows none.
    pub free_text: u32,
}

/// How scripted imposters play (whatever the strategy, which sets how crewmates play).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ImposterPlay {
    /// Kill lone crewmates; in discussion claim a room it was not in, or accuse a random
    /// crewmate; vote for the most accused crewmate.
    #[default]
    Lying,
    /// Kill lone crewmates; stay silent and skip the vote.
    Quiet,
}

impl Default for AmongUsConfig {
    fn default() -> Self {
        let count = |v| Count::new(v).expect("in range");
        AmongUsConfig {
            width: count(3),
            height: count(2),
            imposters: count(1),
            tasks: count(3),
            task_steps: count(3),
            kill_cooldown: 5,
            messages: 2,
            imposter: ImposterPlay::Lying,
            free_text: 0,
        }
    }
}

impl AmongUsConfig {
    fn rooms(&self) -> usize {
        (self.width.get() * self.height.get()) as usize
    }
}

/// The acts, as action indices, for `n` players.
pub mod acts {
    /// Wait, stay silent, or skip the vote.
    pub const WAIT: usize = 0;
    /// Move north (up a row), south, east (right), west.
    pub const MOVES: [usize; 4] = [1, 2, 3, 4];
    /// Do a task in this room.
    pub const TASK: usize = 5;
    /// Report a body in this room.
    pub const REPORT: usize = 6;
    /// Aim at player `j`: kill, accuse or vote.
    pub fn aim(_n: usize, j: usize) -> usize {
        7 + j
    }
    /// The player `act` aims at, if it is an aim.
    pub fn aimed(n: usize, act: usize) -> Option<usize> {
        (aim(n, 0)..aim(n, n))
            .contains(&act)
            .then(|| act - aim(n, 0))
    }
    /// Vouch for player `j`.
    pub fn vouch(n: usize, j: usize) -> usize {
        aim(n, n) + j
    }
    /// Claim to have been in room `r`.
    pub fn claim(n: usize, r: usize) -> usize {
        7 + 2 * n + r
    }
    /// Report "I saw player `j` in room `r`".
    pub fn saw(n: usize, rooms: usize, j: usize, r: usize) -> usize {
        7 + 2 * n + rooms + j * rooms + r
    }
    /// Report "I saw player `j` kill".
    pub fn saw_kill(n: usize, rooms: usize, j: usize) -> usize {
        7 + 2 * n + rooms + n * rooms + j
    }
    /// Say the free text sent with the action.
    pub fn say(n: usize, rooms: usize) -> usize {
        7 + 3 * n + rooms + n * rooms
    }
    /// Number of acts.
    pub fn count(n: usize, rooms: usize) -> usize {
        say(n, rooms) + 1
    }
}

/// Observation layout for `n` players and `rooms` rooms.
pub mod obs {
    /// Own role: 1 for an imposter.
    pub const IMPOSTER: usize = 0;
    /// Stage, one-hot: play, discussion, vote (3 entries).
    pub const STAGE: usize = 1;
    /// Share of all crewmate task steps done (1 entry).
    pub const TASKS_DONE: usize = 4;
    /// Own tasks left, as a share of `tasks` (1 entry).
    pub const OWN_TASKS: usize = 5;
    /// 1 when an imposter's kill is ready (1 entry).
    pub const KILL_READY: usize = 6;
    const BLOCKS: usize = 7;
    /// Own room, one-hot (`rooms` entries).
    pub fn room(_n: usize, _rooms: usize) -> usize {
        BLOCKS
    }
    /// Rooms holding an unfinished task of this player (`rooms` entries).
    pub fn task_rooms(_n: usize, rooms: usize) -> usize {
        BLOCKS + rooms
    }
    /// Which player this is, one-hot (`n` entries).
    pub fn me(_n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms
    }
    /// Who is alive.
    pub fn alive(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + n
    }
    /// Living players in this room.
    pub fn here(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 2 * n
    }
    /// Bodies in this room.
    pub fn bodies(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 3 * n
    }
    /// Players this player saw kill.
    pub fn witnessed(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 4 * n
    }
    /// Fellow imposters (for an imposter).
    pub fn team(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 5 * n
    }
    /// Accusations this discussion: entry `s · n + j` is 1 when player `s` accused player `j`
    /// (`n²` entries).
    pub fn accusations(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 6 * n
    }
    /// Vouches this discussion: entry `s · n + j` is 1 when `s` vouched for `j` (`n²` entries).
    pub fn vouches(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 6 * n + n * n
    }
    /// Kill reports this discussion: entry `s · n + j` is 1 when `s` said it saw `j` kill (`n²`
    /// entries).
    pub fn kill_reports(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 6 * n + 2 * n * n
    }
    /// Rooms claimed this discussion: entry `j · rooms + r` is 1 when player `j` said it was in
    /// room `r` (`n · rooms` entries).
    pub fn claims(n: usize, rooms: usize) -> usize {
        BLOCKS + 2 * rooms + 6 * n + 3 * n * n
    }
    /// Sightings this discussion: entry `j · rooms + r` is 1 when someone said it saw player `j`
    /// in room `r` (`n · rooms` entries).
    pub fn sightings(n: usize, rooms: usize) -> usize {
        claims(n, rooms) + n * rooms
    }
    /// This player's belief: its probability that each player is the imposter.
    pub fn belief(n: usize, rooms: usize) -> usize {
        claims(n, rooms) + 2 * n * rooms
    }
    /// Entries.
    pub fn dim(n: usize, rooms: usize) -> usize {
        belief(n, rooms) + n
    }
}

/// Reward dimension: +1 to the winning side, −1 to the losing side, at the end.
pub const WIN: DimId = DimId(0);
/// Reward dimension: +1 for each task step done.
pub const TASK: DimId = DimId(1);
/// Reward dimension: +1 to an imposter for a kill.
pub const KILL: DimId = DimId(2);
/// Reward dimension: +1 for reporting a body.
pub const REPORT: DimId = DimId(3);
/// Reward dimension: +1 to a crewmate for a vote against an imposter.
pub const VOTE: DimId = DimId(4);
/// Reward dimension: after a message, each living crewmate listener's log-probability of the
/// true imposters under its belief (settled at the next step, attributed to the message).
pub const LISTENING: DimId = DimId(5);
/// Reward dimension: the change, across a message, in the summed probability that the living
/// crewmates other than the speaker give the true imposters (to the speaker; an imposter gets its
/// negative; settled at the next step, attributed to the message).
pub const SPEAKING: DimId = DimId(6);

/// Lowest probability the listening reward takes the log of (a belief of 0 would give −∞).
pub const LISTENING_FLOOR: f64 = 1e-6;

static DIMENSIONS: [DimensionInfo; 7] = [
    DimensionInfo {
        name: "win",
        summary: "+1 to the winning side, −1 to the losing side, when the game ends",
        default_weight: 1.0,
    },
    DimensionInfo {
        name: "task",
        summary: "+1 for each step of a task done (shaping)",
        default_weight: 0.0,
    },
    DimensionInfo {
        name: "kill",
        summary: "+1 to an imposter for each kill (shaping)",
        default_weight: 0.0,
    },
    DimensionInfo {
        name: "report",
        summary: "+1 for reporting a body (shaping)",
        default_weight: 0.0,
    },
    DimensionInfo {
        name: "vote",
        summary: "+1 to a crewmate for a vote against an imposter (shaping)",
        default_weight: 0.0,
    },
    DimensionInfo {
        name: "listening",
        summary: "a crewmate listener's log-probability of the true imposters after a message",
        default_weight: 0.0,
    },
    DimensionInfo {
        name: "speaking",
        summary: "change across a message in the other crewmates' summed belief in the true \
                  imposters (negated for an imposter speaker)",
        default_weight: 0.0,
    },
];

/// Metric: 1 when the imposters won the episode, 0 when the crewmates did.
pub const IMPOSTER_WIN: MetricId = MetricId(0);
/// Metric: 1 when the crewmates won by finishing every task.
pub const TASK_WIN: MetricId = MetricId(1);
/// Metric: 1 when the crewmates won the episode, 0 when the imposters did.
pub const CREW_WIN: MetricId = MetricId(2);

static METRICS: [MetricInfo; 3] = [
    MetricInfo {
        name: "imposter_win",
        summary: "1 when the imposters won the episode, 0 when the crewmates did",
    },
    MetricInfo {
        name: "task_win",
        summary: "1 when the crewmates won by finishing every task, 0 for any other end",
    },
    MetricInfo {
        name: "crew_win",
        summary: "1 when the crewmates won the episode, 0 when the imposters did",
    },
];

static STRATEGIES: [StrategyInfo; 2] = [
    StrategyInfo {
        name: "bayesian",
        summary: "as a crewmate: does its tasks, reports bodies; in discussion reports a kill \
                  it saw, else accuses its most likely imposter when its belief in it is at \
                  least 1/2, else claims its true room; votes for that suspect (else skips); as \
                  an imposter: the scenario's `imposter` play",
        params: &[],
    },
    StrategyInfo {
        name: "random",
        summary: "as a crewmate: does its tasks and reports bodies, accuses and votes for a \
                  uniformly random living player; as an imposter: the scenario's `imposter` play",
        params: &[],
    },
];

/// A scripted player's crewmate play (roles are dealt at random; as an imposter every scripted
/// player follows the scenario's [`ImposterPlay`]).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Acts on its Bayesian belief.
    Bayesian,
    /// Accuses and votes at random.
    Random,
}

impl Strategy {
    fn from_choice(c: &StrategyChoice) -> Self {
        match c.info.name {
            "bayesian" => Strategy::Bayesian,
            "random" => Strategy::Random,
            other => unreachable!("strategy {other} is not in the registry"),
        }
    }
}

/// The speaker model behind every scripted crewmate's Bayesian belief over who the imposter is,
/// updated after each message for each hypothesis `h` (the imposter): a crewmate tells the truth
/// about rooms (claims and sightings), accuses the imposter with probability `ACCUSE_TRUE` and a
/// given innocent with probability `ACCUSE_FALSE`, vouches for a given innocent with probability
/// `VOUCH_TRUE` and for the imposter with probability `ACCUSE_FALSE`, reports the imposter's kill
/// with probability `KILL_TRUE` and a given innocent's with `KILL_FALSE`; an imposter names a
/// uniformly random room, and accuses, vouches for or reports a kill of a uniformly random other
/// living player. A claim or sighting is evidence only to a listener who can check it: one who was
/// in the room named, or with a player it places there. A witnessed kill makes the witness certain;
/// a death or a revealed ejection rules the player out. Free text is no evidence to the model.
pub mod model {
    /// P(a crewmate accuses the imposter).
    pub const ACCUSE_TRUE: f64 = 0.5;
    /// P(a crewmate accuses a given innocent), and P(it vouches for the imposter).
    pub const ACCUSE_FALSE: f64 = 0.02;
    /// P(a crewmate vouches for a given innocent).
    pub const VOUCH_TRUE: f64 = 0.2;
    /// P(a crewmate reports the imposter's kill).
    pub const KILL_TRUE: f64 = 0.5;
    /// P(a crewmate reports a kill by a given innocent): crewmates report only kills they saw.
    pub const KILL_FALSE: f64 = 0.001;
}

/// A discussion act, decoded from its action index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Message {
    Silent,
    Accuse(usize),
    Vouch(usize),
    Claim(usize),
    Saw(usize, usize),
    SawKill(usize),
    Say,
}

impl Message {
    /// The message act `act` says among `n` players and `rooms` rooms; `None` for the acts of play
    /// (moves, tasks, reports) and indices past the last act.
    fn from_act(n: usize, rooms: usize, act: usize) -> Option<Message> {
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
    fn act(self) -> Act {
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
    fn render(self, speaker: AgentId, text: &str, report_step: u32) -> String {
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

/// Where the game is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Everyone living moves, works or kills.
    Play,
    /// One speaker per step.
    Discussion,
    /// Everyone living votes.
    Vote,
}

#[derive(Clone, Debug, Default)]
struct Task {
    room: usize,
    done: u32,
}

#[derive(Component, Debug)]
struct State {
    config: AmongUsConfig,
    imposter: Vec<bool>,
    alive: Vec<bool>,
    room: Vec<usize>,
    tasks: Vec<Vec<Task>>,
    /// The room of each unreported body.
    bodies: Vec<Option<usize>>,
    /// `witnessed[a][j]`: `a` saw `j` kill.
    witnessed: Vec<Vec<bool>>,
    /// Steps until each imposter may kill again.
    cooldown: Vec<u32>,
    stage: Stage,
    speakers: Vec<AgentId>,
    /// Each player's room when the discussion began (the truth behind claims), and that step.
    rooms_at_report: Vec<usize>,
    report_step: u32,
    said: Said,
    /// `belief[a][j]`: player `a`'s probability that `j` is the imposter, normalised over `j`
    /// (a scripted imposter knows its team): the game's posterior for a scripted player, the
    /// belief last supplied for any other.
    belief: Vec<Vec<f64>>,
    /// Whose beliefs the game updates: its scripted players'.
    scripted: Vec<bool>,
    /// Who may say free text: the players acting from outside.
    external: Vec<bool>,
    /// The last message, whose listening and speaking rewards settle at the next step.
    pending: Option<Pending>,
}

/// What was said this discussion, and by whom.
#[derive(Debug)]
struct Said {
    n: usize,
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
    fn new(n: usize, rooms: usize) -> Self {
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

    fn clear(&mut self) {
        for counts in [&mut self.accused, &mut self.vouched, &mut self.reported] {
            counts.fill(0);
        }
        self.claimed.fill(false);
        self.placed.fill(false);
    }

    /// Notes `speaker`'s message.
    fn note(&mut self, speaker: usize, message: Message) {
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

    /// Accusations of `j`, by anyone.
    fn accusations_of(&self, j: usize) -> u32 {
        (0..self.n).map(|s| self.accused[s * self.n + j]).sum()
    }

    /// Writes the observation blocks of what was said into `row`.
    fn observe(&self, row: &mut [f32]) {
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

/// A message waiting for its listeners' beliefs.
#[derive(Clone, Copy, Debug)]
struct Pending {
    speaker: usize,
    message: UtteranceId,
    /// The summed belief in the true imposters of the living crewmates other than the speaker,
    /// before the message.
    before: f64,
}

impl State {
    /// A game of `n` players, to be dealt by `reset`.
    fn new(config: AmongUsConfig, n: usize) -> Self {
        let rooms = config.rooms();
        State {
            config,
            imposter: vec![false; n],
            alive: vec![true; n],
            room: vec![0; n],
            tasks: vec![Vec::new(); n],
            bodies: vec![None; n],
            witnessed: vec![vec![false; n]; n],
            cooldown: vec![0; n],
            stage: Stage::Play,
            speakers: Vec::new(),
            rooms_at_report: vec![0; n],
            report_step: 0,
            said: Said::new(n, rooms),
            belief: vec![vec![0.0; n]; n],
            scripted: vec![false; n],
            external: vec![false; n],
            pending: None,
        }
    }

    fn living(&self) -> impl Iterator<Item = AgentId> + '_ {
        (0..self.alive.len())
            .filter(|&a| self.alive[a])
            .map(|a| AgentId(a as u32))
    }

    fn task_steps_left(&self) -> u32 {
        let steps = self.config.task_steps.get();
        self.tasks.iter().flatten().map(|t| steps - t.done).sum()
    }

    /// The winner, if the game is over: `Some(true)` for the imposters, and whether tasks won.
    fn winner(&self) -> Option<(bool, bool)> {
        let imposters = self.living().filter(|a| self.imposter[a.index()]).count();
        let crew = self.living().count() - imposters;
        if imposters == 0 {
            Some((false, false))
        } else if self.task_steps_left() == 0 {
            Some((false, true))
        } else if imposters >= crew {
            Some((true, false))
        } else {
            None
        }
    }

    /// The room `dir` (0 north, 1 south, 2 east, 3 west) leads to from `room`, if any.
    fn neighbour(&self, room: usize, dir: usize) -> Option<usize> {
        let (w, h) = (
            self.config.width.get() as usize,
            self.config.height.get() as usize,
        );
        let (x, y) = (room % w, room / w);
        match dir {
            0 if y > 0 => Some(room - w),
            1 if y + 1 < h => Some(room + w),
            2 if x + 1 < w => Some(room + 1),
            3 if x > 0 => Some(room - 1),
            _ => None,
        }
    }

    /// The probability `a`'s belief gives the true imposters.
    fn belief_in_imposters(&self, a: usize) -> f64 {
        (0..self.alive.len())
            .filter(|&j| self.imposter[j])
            .map(|j| self.belief[a][j])
            .sum()
    }

    /// The living crewmates other than `speaker`: the listeners whose beliefs a message moves.
    fn crew_listeners(&self, speaker: usize) -> impl Iterator<Item = usize> + '_ {
        self.living()
            .map(AgentId::index)
            .filter(move |&c| c != speaker && !self.imposter[c])
    }

    /// The summed probability that the living crewmates other than `speaker` give the true
    /// imposters.
    fn crew_belief_in_imposters(&self, speaker: usize) -> f64 {
        self.crew_listeners(speaker)
            .map(|c| self.belief_in_imposters(c))
            .sum()
    }

    /// Multiplies every living scripted crewmate `l`'s belief by `likelihood(state, l, h)` and
    /// renormalises; a belief that would vanish is kept (contradictory evidence is ignored).
    fn update(&mut self, likelihood: impl Fn(&State, usize, usize) -> f64) {
        let n = self.alive.len();
        for l in 0..n {
            if !self.alive[l] || self.imposter[l] || !self.scripted[l] {
                continue;
            }
            let posterior: Vec<f64> = (0..n)
                .map(|h| self.belief[l][h] * likelihood(self, l, h))
                .collect();
            let total: f64 = posterior.iter().sum();
            if total > 0.0 {
                self.belief[l] = posterior.iter().map(|p| p / total).collect();
            }
        }
    }

    /// Every crewmate learns that `j` is not a suspect: dead, or ejected and revealed.
    fn rule_out(&mut self, j: usize) {
        self.update(|_, _, h| f64::from(u8::from(h != j)));
    }

    /// Every living scripted crewmate other than `speaker` hears its message, by the speaker
    /// model.
    fn hear(&mut self, speaker: usize, message: Message) {
        let others = (self.living().count() - 1).max(1) as f64;
        let rooms = self.config.rooms() as f64;
        self.update(|st, l, h| {
            if l == speaker {
                return 1.0;
            }
            let imposter_speaks = h == speaker;
            // Whether `x` was in room `r` at the report, if the listener can tell: it was in `r`,
            // or with `x`.
            let check = |x: usize, r: usize| {
                let (mine, theirs) = (st.rooms_at_report[l], st.rooms_at_report[x]);
                (mine == theirs || mine == r).then_some(theirs == r)
            };
            // "`placed` were in room `r`": no evidence unless the listener can check some of it;
            // then a crewmate is never caught lying, an imposter names a random room.
            let placed_in = |placed: &[usize], r: usize| {
                let mut checked = placed.iter().filter_map(|&x| check(x, r)).peekable();
                match (checked.peek().is_some(), imposter_speaks) {
                    (false, _) => 1.0,
                    (true, true) => 1.0 / rooms,
                    (true, false) => f64::from(u8::from(checked.all(|truth| truth))),
                }
            };
            match message {
                Message::Accuse(_) | Message::Vouch(_) | Message::SawKill(_) if imposter_speaks => {
                    1.0 / others
                }
                Message::Accuse(j) if h == j => model::ACCUSE_TRUE,
                Message::Accuse(_) => model::ACCUSE_FALSE,
                Message::Vouch(j) if h == j => model::ACCUSE_FALSE,
                Message::Vouch(_) => model::VOUCH_TRUE,
                Message::SawKill(j) if h == j => model::KILL_TRUE,
                Message::SawKill(_) => model::KILL_FALSE,
                Message::Claim(r) => placed_in(&[speaker], r),
                Message::Saw(j, r) => placed_in(&[speaker, j], r),
                Message::Silent | Message::Say => 1.0,
            }
        });
    }

    fn has_task_here(&self, a: usize) -> bool {
        let steps = self.config.task_steps.get();
        self.tasks[a]
            .iter()
            .any(|t| t.room == self.room[a] && t.done < steps)
    }

    fn body_here(&self, a: usize) -> bool {
        self.bodies.iter().any(|b| *b == Some(self.room[a]))
    }
}

#[derive(Component, Debug, Default)]
struct Events {
    entries: Vec<(AgentId, UtteranceId, DimId, f64)>,
    /// The end: imposters won, by tasks, and the act that decided it.
    end: Option<(bool, bool, UtteranceId)>,
}

impl Rules for AmongUsConfig {
    fn observation_space(&self, agents: usize) -> Space {
        Space::uniform_box(obs::dim(agents, self.rooms()), 0.0, 1.0)
    }

    fn action_space(&self, agents: usize) -> Space {
        let mut parts = vec![
            Space::Discrete {
                n: acts::count(agents, self.rooms()) as u32,
            },
            Space::Simplex { n: agents as u32 },
        ];
        if self.free_text > 0 {
            parts.push(Space::Text {
                max_chars: self.free_text,
            });
        }
        Space::Tuple(parts)
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DIMENSIONS
    }

    fn strategies(&self) -> &'static [StrategyInfo] {
        &STRATEGIES
    }

    fn metrics(&self) -> &'static [MetricInfo] {
        &METRICS
    }

    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        let (n, m) = (agents.len(), self.imposters.get() as usize);
        if 2 * m >= n {
            return Err(format!(
                "{m} imposters among {n} players: the imposters must be fewer than the crewmates"
            ));
        }
        Ok(())
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        game.insert_strategies(Strategy::from_choice);
        game.env_component(|| State::new(self.clone(), n))
            .env_component(Events::default)
            .add_systems(Phase::Reset, reset)
            .add_systems(Phase::Observe, turns_and_observations)
            .add_systems(Phase::Decide, decide)
            .add_systems(Phase::Resolve, resolve)
            .add_systems(Phase::Reward, reward)
            .add_systems(Phase::Record, record);
    }
}

/// Deals the roles, rooms and tasks at random.
fn reset(agents: Res<Agents>, mut envs: Query<(&mut State, &mut SimRng), Resetting>) {
    for (state, rng) in &mut envs {
        reset_env(state.into_inner(), &agents, rng.into_inner());
    }
}

fn reset_env(state: &mut State, agents: &Agents, rng: &mut SimRng) {
    for a in agents.ids() {
        state.scripted[a.index()] = matches!(agents.controller(a), Controller::Scripted(_));
        state.external[a.index()] = *agents.controller(a) == Controller::External;
    }
    state.pending = None;
    let rng = &mut rng.pairing;
    let (n, rooms) = (state.alive.len(), state.config.rooms());
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    state.imposter.fill(false);
    for &a in order.iter().take(state.config.imposters.get() as usize) {
        state.imposter[a] = true;
    }
    state.alive.fill(true);
    for a in 0..n {
        state.room[a] = rng.random_range(0..rooms);
        state.tasks[a] = if state.imposter[a] {
            Vec::new()
        } else {
            (0..state.config.tasks.get())
                .map(|_| Task {
                    room: rng.random_range(0..rooms),
                    done: 0,
                })
                .collect()
        };
        state.cooldown[a] = state.config.kill_cooldown;
    }
    state.bodies.fill(None);
    state.witnessed.iter_mut().for_each(|w| w.fill(false));
    state.stage = Stage::Play;
    state.speakers.clear();
    state.said.clear();
    // A crewmate starts uniform over the others; an imposter knows its team (what an external
    // player sees in its observation until it states a belief of its own).
    let m = f64::from(state.config.imposters.get());
    for a in 0..n {
        for j in 0..n {
            state.belief[a][j] = match state.imposter[a] {
                true => f64::from(u8::from(state.imposter[j])) / m,
                false => f64::from(u8::from(j != a)) / (n - 1) as f64,
            };
        }
    }
}

fn turns_and_observations(
    mut envs: Query<(&State, &mut Turn, &mut ActionMasks, &mut Observations)>,
) {
    for (state, turn, masks, obs) in &mut envs {
        turns_and_observations_env(
            state,
            turn.into_inner(),
            masks.into_inner(),
            obs.into_inner(),
        );
    }
}

fn turns_and_observations_env(
    state: &State,
    turn: &mut Turn,
    masks: &mut ActionMasks,
    obs: &mut Observations,
) {
    let (n, rooms) = (state.alive.len(), state.config.rooms());
    for a in 0..n {
        turn.set_acting(AgentId(a as u32), false);
    }
    let mut allow = |a: usize, legal: &dyn Fn(usize) -> bool| {
        turn.set_acting(AgentId(a as u32), true);
        let row = masks.0.row_mut(AgentId(a as u32));
        for (act, m) in row.iter_mut().enumerate() {
            *m = u8::from(legal(act));
        }
    };
    let other = |a: usize, j: usize| state.alive[j] && j != a;
    match state.stage {
        Stage::Play => {
            for a in state.living().map(AgentId::index) {
                let kill_ready = state.imposter[a] && state.cooldown[a] == 0;
                allow(a, &|act| match act {
                    acts::WAIT => true,
                    1..=4 => state.neighbour(state.room[a], act - 1).is_some(),
                    acts::TASK => state.has_task_here(a),
                    acts::REPORT => state.body_here(a),
                    _ => acts::aimed(n, act).is_some_and(|j| {
                        kill_ready
                            && other(a, j)
                            && !state.imposter[j]
                            && state.room[j] == state.room[a]
                    }),
                });
            }
        }
        Stage::Discussion => {
            // Everyone living acts, to state a belief after each message; only the speaker says
            // anything.
            let speaker = state.speakers.last().map(|s| s.index());
            for a in state.living().map(AgentId::index) {
                if Some(a) != speaker {
                    allow(a, &|act| act == acts::WAIT);
                    continue;
                }
                allow(a, &|act| match Message::from_act(n, rooms, act) {
                    Some(Message::Accuse(j) | Message::Vouch(j) | Message::SawKill(j)) => {
                        other(a, j)
                    }
                    Some(Message::Saw(j, _)) => other(a, j),
                    Some(Message::Say) => state.config.free_text > 0 && state.external[a],
                    Some(Message::Silent | Message::Claim(_)) => true,
                    None => false,
                });
            }
        }
        Stage::Vote => {
            for a in state.living().map(AgentId::index) {
                allow(a, &|act| {
                    act == acts::WAIT || acts::aimed(n, act).is_some_and(|j| other(a, j))
                });
            }
        }
    }
    observe(state, obs);
}

fn observe(state: &State, obs: &mut Observations) {
    let (n, rooms) = (state.alive.len(), state.config.rooms());
    let steps = state.config.task_steps.get();
    let total: u32 = state.tasks.iter().map(|t| t.len() as u32 * steps).sum();
    let done = 1.0 - state.task_steps_left() as f32 / total.max(1) as f32;
    for a in 0..n {
        let row = obs.0.row_mut(AgentId(a as u32));
        row.fill(0.0);
        row[obs::IMPOSTER] = f32::from(u8::from(state.imposter[a]));
        let stage = match state.stage {
            Stage::Play => 0,
            Stage::Discussion => 1,
            Stage::Vote => 2,
        };
        row[obs::STAGE + stage] = 1.0;
        row[obs::TASKS_DONE] = done;
        let own_left = state.tasks[a].iter().filter(|t| t.done < steps).count();
        row[obs::OWN_TASKS] = own_left as f32 / state.config.tasks.get() as f32;
        row[obs::KILL_READY] = f32::from(u8::from(state.imposter[a] && state.cooldown[a] == 0));
        row[obs::room(n, rooms) + state.room[a]] = 1.0;
        for t in state.tasks[a].iter().filter(|t| t.done < steps) {
            row[obs::task_rooms(n, rooms) + t.room] = 1.0;
        }
        row[obs::me(n, rooms) + a] = 1.0;
        for j in 0..n {
            let bit = |b: bool| f32::from(u8::from(b));
            row[obs::alive(n, rooms) + j] = bit(state.alive[j]);
            row[obs::here(n, rooms) + j] = bit(state.alive[j] && state.room[j] == state.room[a]);
            row[obs::bodies(n, rooms) + j] = bit(state.bodies[j] == Some(state.room[a]));
            row[obs::witnessed(n, rooms) + j] = bit(state.witnessed[a][j]);
            row[obs::team(n, rooms) + j] = bit(state.imposter[a] && state.imposter[j]);
            row[obs::belief(n, rooms) + j] = state.belief[a][j] as f32;
        }
        state.said.observe(row);
    }
}

/// The first move that brings `from` one room closer to `to` on the grid (east/west first).
fn toward(state: &State, from: usize, to: usize) -> usize {
    let w = state.config.width.get() as usize;
    let (fx, fy, tx, ty) = (from % w, from / w, to % w, to / w);
    if tx > fx {
        acts::MOVES[2]
    } else if tx < fx {
        acts::MOVES[3]
    } else if ty > fy {
        acts::MOVES[1]
    } else if ty < fy {
        acts::MOVES[0]
    } else {
        acts::WAIT
    }
}

#[allow(clippy::type_complexity)]
fn decide(
    mut envs: Query<
        (
            &EnvAgents,
            &State,
            &Turn,
            &ActionMasks,
            &mut SimRng,
            &mut Actions,
        ),
        Stepping,
    >,
    strategies: Query<(&AgentId, &Strategy)>,
) {
    for (agents, state, turn, masks, rng, actions) in &mut envs {
        let scripted = strategies.iter_many(agents.iter()).filter_map(Result::ok);
        decide_env(
            scripted,
            state,
            turn,
            masks,
            rng.into_inner(),
            actions.into_inner(),
        );
    }
}

fn decide_env<'a>(
    strategies: impl Iterator<Item = (&'a AgentId, &'a Strategy)>,
    state: &State,
    turn: &Turn,
    masks: &ActionMasks,
    rng: &mut SimRng,
    actions: &mut Actions,
) {
    let n = state.alive.len();
    let rooms = state.config.rooms();
    let rng = &mut rng.decide;
    for (&a, &strategy) in strategies {
        if !turn.is_acting(a) {
            continue;
        }
        let i = a.index();
        let mask = masks.0.row(a);
        let legal = |act: usize| mask[act] != 0;
        let targets: Vec<usize> = (0..n).filter(|&j| legal(acts::aim(n, j))).collect();
        let crew_targets: Vec<usize> = targets
            .iter()
            .copied()
            .filter(|&j| !state.imposter[j])
            .collect();
        // A Bayesian crewmate's suspect: its most likely imposter, if at least even odds.
        let suspect = (0..n)
            .filter(|&j| state.alive[j] && j != i)
            .max_by(|&x, &y| {
                state.belief[i][x]
                    .total_cmp(&state.belief[i][y])
                    .then(y.cmp(&x))
            })
            .filter(|&j| state.belief[i][j] >= 0.5);
        // A living player it saw kill.
        let killer = (0..n).find(|&j| state.witnessed[i][j] && state.alive[j]);
        let lying = state.config.imposter == ImposterPlay::Lying;
        let speaking = state.speakers.last() == Some(&a);
        let act = match (state.stage, state.imposter[i]) {
            (Stage::Discussion, _) if !speaking => acts::WAIT,
            (Stage::Play, true) => {
                // Kill only a crewmate who is alone with the imposter: no witnesses.
                let here: Vec<usize> = state
                    .living()
                    .map(AgentId::index)
                    .filter(|&j| j != i && state.room[j] == state.room[i])
                    .collect();
                match here[..] {
                    [j] if legal(acts::aim(n, j)) => acts::aim(n, j),
                    _ => {
                        let moves: Vec<usize> =
                            acts::MOVES.into_iter().filter(|&m| legal(m)).collect();
                        pick(&moves, rng)
                    }
                }
            }
            (Stage::Play, false) => {
                let steps = state.config.task_steps.get();
                let next = state.tasks[i].iter().find(|t| t.done < steps);
                if legal(acts::REPORT) {
                    acts::REPORT
                } else if legal(acts::TASK) {
                    acts::TASK
                } else if let Some(t) = next {
                    toward(state, state.room[i], t.room)
                } else {
                    acts::WAIT
                }
            }
            (Stage::Discussion, true) if lying => {
                // Half the time a false alibi, half the time a random accusation.
                if rng.random_bool(0.5) {
                    let elsewhere: Vec<usize> = (0..rooms)
                        .filter(|&r| r != state.rooms_at_report[i])
                        .map(|r| acts::claim(n, r))
                        .collect();
                    pick(&elsewhere, rng)
                } else {
                    let accusations: Vec<usize> =
                        crew_targets.iter().map(|&j| acts::aim(n, j)).collect();
                    pick(&accusations, rng)
                }
            }
            (Stage::Vote, true) if lying => {
                let most = crew_targets
                    .iter()
                    .copied()
                    .max_by_key(|&j| (state.said.accusations_of(j), std::cmp::Reverse(j)));
                most.map_or(acts::WAIT, |j| acts::aim(n, j))
            }
            (_, true) => acts::WAIT,
            (Stage::Discussion, false) => match (strategy, suspect) {
                // A kill it saw comes first.
                (Strategy::Bayesian, _) if killer.is_some() => {
                    acts::saw_kill(n, rooms, killer.expect("checked"))
                }
                (Strategy::Bayesian, Some(j)) => acts::aim(n, j),
                (Strategy::Bayesian, None) => acts::claim(n, state.rooms_at_report[i]),
                (Strategy::Random, _) => {
                    let accusations: Vec<usize> =
                        targets.iter().map(|&j| acts::aim(n, j)).collect();
                    pick(&accusations, rng)
                }
            },
            (Stage::Vote, false) => match (strategy, suspect) {
                (Strategy::Bayesian, Some(j)) => acts::aim(n, j),
                (Strategy::Bayesian, None) => acts::WAIT,
                (Strategy::Random, _) => {
                    let votes: Vec<usize> = targets.iter().map(|&j| acts::aim(n, j)).collect();
                    pick(&votes, rng)
                }
            },
        };
        let row = actions.0.row_mut(a);
        row[0] = act as f32;
        for (p, &b) in row[1..].iter_mut().zip(&state.belief[i]) {
            *p = b as f32;
        }
    }
}

/// Ends the game if a side has won, naming the act that decided it.
fn check_end(state: &State, decided_by: UtteranceId, events: &mut Events, done: &mut Done) {
    if events.end.is_none()
        && let Some((imposters_won, by_tasks)) = state.winner()
    {
        events.end = Some((imposters_won, by_tasks, decided_by));
        done.terminate_all();
    }
}

#[allow(clippy::type_complexity)]
fn resolve(
    mut envs: Query<
        (
            &mut State,
            &Turn,
            &Actions,
            &mut SimRng,
            &Texts,
            &Clock,
            &mut Utterances,
            &mut Events,
            &mut Done,
        ),
        Stepping,
    >,
) {
    for (state, turn, actions, rng, texts, clock, utterances, events, done) in &mut envs {
        resolve_env(
            state.into_inner(),
            turn,
            actions,
            rng.into_inner(),
            texts,
            clock,
            utterances.into_inner(),
            events.into_inner(),
            done.into_inner(),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_env(
    state: &mut State,
    turn: &Turn,
    actions: &Actions,
    rng: &mut SimRng,
    texts: &Texts,
    clock: &Clock,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    events.entries.clear();
    events.end = None;
    let n = state.alive.len();
    let acting: Vec<usize> = (0..n)
        .filter(|&a| turn.is_acting(AgentId(a as u32)))
        .collect();
    let act_of = |a: usize| actions.0.row(AgentId(a as u32))[0] as usize;
    let id = |a: usize| AgentId(a as u32);
    // Beliefs stated with the actions (scripted players state the game's own).
    for &a in acting.iter().filter(|&&a| !state.scripted[a]) {
        let stated = &actions.0.row(id(a))[1..];
        for (b, &p) in state.belief[a].iter_mut().zip(stated) {
            *b = f64::from(p);
        }
    }
    if let Some(p) = state.pending.take() {
        settle(state, p, events);
    }
    match state.stage {
        Stage::Play => {
            play(
                state,
                &acting,
                &act_of,
                &mut rng.pairing,
                utterances,
                events,
                done,
            );
            if state.stage != Stage::Play {
                state.report_step = clock.step();
            }
        }
        Stage::Discussion => {
            let speaker = state.speakers.pop().expect("a speaker acts in discussion");
            let message = Message::from_act(n, state.config.rooms(), act_of(speaker.index()))
                .expect("the mask allows only messages in discussion");
            state.said.note(speaker.index(), message);
            let before = state.crew_belief_in_imposters(speaker.index());
            state.hear(speaker.index(), message);
            let text = texts.get(speaker).unwrap_or_default();
            let words = || message.render(speaker, text, state.report_step);
            let u = match message {
                // Free text is the message itself: kept even where nothing is rendered.
                Message::Say => {
                    utterances.say_words(speaker, Audience::All, message.act(), words())
                }
                _ => utterances.say(speaker, Audience::All, message.act(), words),
            };
            let pending = Pending {
                speaker: speaker.index(),
                message: u,
                before,
            };
            // At the step limit no listener has a step left to answer: settle on the beliefs as
            // they stand rather than lose the message's rewards.
            if done.is_last_step(clock.step()) {
                settle(state, pending, events);
            } else {
                state.pending = Some(pending);
            }
            if state.speakers.is_empty() {
                state.stage = Stage::Vote;
            }
        }
        Stage::Vote => {
            let mut votes = vec![0u32; n];
            let mut skips = 0u32;
            for &a in &acting {
                let act = act_of(a);
                let target = acts::aimed(n, act).map(id);
                let kind = if target.is_some() { "vote" } else { "skip" };
                let u = utterances.say(
                    id(a),
                    Audience::All,
                    Act {
                        kind,
                        target,
                        value: 0.0,
                    },
                    || match target {
                        Some(t) => format!("{} votes to eject {t}", id(a)),
                        None => format!("{} skips the vote", id(a)),
                    },
                );
                match target {
                    Some(t) => {
                        votes[t.index()] += 1;
                        if !state.imposter[a] && state.imposter[t.index()] {
                            events.entries.push((id(a), u, VOTE, 1.0));
                        }
                    }
                    None => skips += 1,
                }
            }
            // A strict plurality of one player ejects; a tie, or skips as many, ejects nobody.
            let max = votes.iter().copied().max().unwrap_or(0);
            let top: Vec<usize> = (0..n).filter(|&j| votes[j] == max).collect();
            if max > skips && top.len() == 1 {
                let j = top[0];
                state.alive[j] = false;
                done.terminate(id(j));
                state.rule_out(j);
                let value = f64::from(u8::from(state.imposter[j]));
                let act = Act {
                    kind: "ejected",
                    target: None,
                    value,
                };
                let was = if state.imposter[j] {
                    "the imposter"
                } else {
                    "a crewmate"
                };
                let u = utterances.say(id(j), Audience::All, act, || {
                    format!("{} is ejected: they were {was}", id(j))
                });
                check_end(state, u, events, done);
            }
            state.stage = Stage::Play;
        }
    }
}

/// The listening and speaking rewards of the last message, now that every listener has stated
/// its belief after it.
fn settle(state: &State, p: Pending, events: &mut Events) {
    let id = |a: usize| AgentId(a as u32);
    let sign = if state.imposter[p.speaker] { -1.0 } else { 1.0 };
    let after = state.crew_belief_in_imposters(p.speaker);
    events.entries.push((
        id(p.speaker),
        p.message,
        SPEAKING,
        sign * (after - p.before),
    ));
    for l in state.crew_listeners(p.speaker) {
        let belief = state.belief_in_imposters(l).max(LISTENING_FLOOR);
        events
            .entries
            .push((id(l), p.message, LISTENING, belief.ln()));
    }
}

/// A step of play: kills first (from where everyone stood), then reports, tasks and moves of the
/// players still alive.
#[allow(clippy::too_many_arguments)]
fn play(
    state: &mut State,
    acting: &[usize],
    act_of: &dyn Fn(usize) -> usize,
    rng: &mut impl Rng,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    let n = state.alive.len();
    let id = |a: usize| AgentId(a as u32);
    for &a in acting {
        if state.imposter[a] {
            state.cooldown[a] = state.cooldown[a].saturating_sub(1);
        }
    }
    let mut killed = vec![false; n];
    for &a in acting {
        let act = act_of(a);
        let Some(j) = acts::aimed(n, act).filter(|&j| !killed[a] && !killed[j]) else {
            continue;
        };
        let room = state.room[a];
        killed[j] = true;
        state.alive[j] = false;
        state.bodies[j] = Some(room);
        state.cooldown[a] = state.config.kill_cooldown;
        done.terminate(id(j));
        let witnesses: Vec<usize> = (0..n)
            .filter(|&w| w != a && w != j && state.alive[w] && state.room[w] == room)
            .collect();
        for &w in &witnesses {
            state.witnessed[w][a] = true;
            if !state.imposter[w] && state.scripted[w] {
                state.belief[w] = (0..n).map(|h| f64::from(u8::from(h == a))).collect();
            }
        }
        state.rule_out(j);
        let act = Act {
            kind: "kill",
            target: Some(id(j)),
            value: witnesses.len() as f64,
        };
        let u = utterances.say(id(a), Audience::Agent(id(j)), act, || {
            format!(
                "{} kills {} in room {room} ({} witnesses)",
                id(a),
                id(j),
                witnesses.len()
            )
        });
        events.entries.push((id(a), u, KILL, 1.0));
        check_end(state, u, events, done);
    }
    let mut reported = None;
    let steps = state.config.task_steps.get();
    for &a in acting.iter().filter(|&&a| !killed[a]) {
        let room = state.room[a];
        match act_of(a) {
            acts::REPORT => {
                let act = Act {
                    kind: "report",
                    target: None,
                    value: room as f64,
                };
                let u = utterances.say(id(a), Audience::All, act, || {
                    format!("{} reports a body in room {room}", id(a))
                });
                events.entries.push((id(a), u, REPORT, 1.0));
                reported.get_or_insert(id(a));
            }
            acts::TASK => {
                let task = state.tasks[a]
                    .iter_mut()
                    .find(|t| t.room == room && t.done < steps)
                    .expect("the mask allows a task only where one is left");
                task.done += 1;
                let act = Act {
                    kind: "task",
                    target: None,
                    value: room as f64,
                };
                let u = utterances.say(id(a), Audience::Agent(id(a)), act, || {
                    format!("{} works on a task in room {room}", id(a))
                });
                events.entries.push((id(a), u, TASK, 1.0));
                check_end(state, u, events, done);
            }
            m @ 1..=4 => {
                if let Some(to) = state.neighbour(room, m - 1) {
                    state.room[a] = to;
                }
            }
            _ => {}
        }
    }
    if events.end.is_none() && reported.is_some() {
        state.rooms_at_report.clone_from(&state.room);
        state.bodies.fill(None);
        state.said.clear();
        let living: Vec<AgentId> = state.living().collect();
        state.speakers = super::speaking_order(&living, state.config.messages, rng);
        state.stage = if state.speakers.is_empty() {
            Stage::Vote
        } else {
            Stage::Discussion
        };
    }
}

/// Reward components: shaping entries on the acts that earned them; the end, on the act that
/// decided it.
fn reward(mut envs: Query<(&State, &Events, &mut RewardLedger), Stepping>) {
    for (state, events, ledger) in &mut envs {
        let ledger = ledger.into_inner();
        for &(a, u, dim, value) in &events.entries {
            ledger.add(a, u, dim, value);
        }
        if let Some((imposters_won, _, u)) = events.end {
            for (a, &imposter) in state.imposter.iter().enumerate() {
                let won = imposter == imposters_won;
                ledger.add(AgentId(a as u32), u, WIN, if won { 1.0 } else { -1.0 });
            }
        }
    }
}

fn record(mut envs: Query<(&Events, &mut Metrics), Stepping>) {
    for (events, metrics) in &mut envs {
        if let Some((imposters_won, by_tasks, _)) = events.end {
            let metrics = metrics.into_inner();
            metrics.record(IMPOSTER_WIN, f64::from(u8::from(imposters_won)));
            metrics.record(TASK_WIN, f64::from(u8::from(by_tasks)));
            metrics.record(CREW_WIN, f64::from(u8::from(!imposters_won)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five scripted players on two rooms side by side, as at a report: 0 the imposter, 1 dead,
    /// 2 the reporter (with the imposter in room 1 at the report), 3 and 4 in room 0. Every
    /// crewmate holds 1/3 on each other living player.
    fn at_report() -> State {
        let config = AmongUsConfig {
            width: Count::new(2).unwrap(),
            height: Count::new(1).unwrap(),
            ..AmongUsConfig::default()
        };
        let mut st = State::new(config, 5);
        st.imposter[0] = true;
        st.alive[1] = false;
        st.scripted.fill(true);
        st.rooms_at_report = vec![1, 1, 1, 0, 0];
        for a in 0..5 {
            st.belief[a] = (0..5)
                .map(|j| match (a, j) {
                    (0, _) => f64::from(u8::from(j == 0)),
                    _ if j == a || j == 1 => 0.0,
                    _ => 1.0 / 3.0,
                })
                .collect();
        }
        st
    }

    /// The message of `speaker`, heard, with its rewards settled: (listener, listening) pairs and
    /// the speaking reward.
    fn hear_and_settle(
        st: &mut State,
        speaker: usize,
        message: Message,
    ) -> (Vec<(usize, f64)>, f64) {
        let before = st.crew_belief_in_imposters(speaker);
        st.hear(speaker, message);
        let pending = Pending {
            speaker,
            message: UtteranceId(9),
            before,
        };
        let mut events = Events::default();
        settle(st, pending, &mut events);
        assert!(events.entries.iter().all(|e| e.1 == UtteranceId(9)));
        let of = |d: DimId| events.entries.iter().filter(move |e| e.2 == d);
        let listening = of(LISTENING).map(|e| (e.0.index(), e.3)).collect();
        let speaking: Vec<(AgentId, f64)> = of(SPEAKING).map(|e| (e.0, e.3)).collect();
        assert_eq!(speaking.len(), 1);
        assert_eq!(speaking[0].0, AgentId(speaker as u32));
        (listening, speaking[0].1)
    }

    #[test]
    fn a_lie_every_listener_can_check_makes_the_crew_certain() {
        // The imposter claims room 0: the reporter was with it in room 1, the others were in
        // room 0 without it. Each becomes certain: listening ln 1 = 0; the crew's summed belief
        // goes from 3 × 1/3 to 3, and the imposter speaker gets the negative, −2.
        let mut st = at_report();
        let (listening, speaking) = hear_and_settle(&mut st, 0, Message::Claim(0));
        assert_eq!(listening, vec![(2, 0.0), (3, 0.0), (4, 0.0)]);
        assert!((speaking + 2.0).abs() < 1e-12, "{speaking}");
    }

    #[test]
    fn an_accusation_moves_beliefs_by_the_speaker_model() {
        // Crewmate 2 accuses crewmate 3. Each hypothesis h (the imposter) weighs it: h = 2 (the
        // speaker): 1/3 (an imposter accuses one of the 3 other living players); h = 3:
        // ACCUSE_TRUE; any other h: ACCUSE_FALSE. Listener 4 holds h ∈ {0, 2, 3}, listener 3
        // holds h ∈ {0, 2, 4}; uniform priors cancel.
        let mut st = at_report();
        let (t, f) = (model::ACCUSE_TRUE, model::ACCUSE_FALSE);
        let p4 = f / (f + 1.0 / 3.0 + t);
        let p3 = f / (f + 1.0 / 3.0 + f);
        let (listening, speaking) = hear_and_settle(&mut st, 2, Message::Accuse(3));
        assert_eq!(listening.len(), 2);
        assert_eq!((listening[0].0, listening[1].0), (3, 4));
        assert!((listening[0].1 - p3.ln()).abs() < 1e-12);
        assert!((listening[1].1 - p4.ln()).abs() < 1e-12);
        // The listeners' summed belief goes from 2 × 1/3 to p3 + p4; the speaker's own is no part
        // of it.
        assert!(
            (speaking - (p3 + p4 - 2.0 / 3.0)).abs() < 1e-12,
            "{speaking}"
        );
        assert_eq!(st.belief[2][0], 1.0 / 3.0, "the speaker's belief stays");
    }

    #[test]
    fn only_scripted_players_beliefs_follow_the_model() {
        let mut st = at_report();
        st.scripted[4] = false;
        let stated = st.belief[4].clone();
        st.hear(0, Message::Claim(0));
        assert_eq!(st.belief[4], stated);
        assert_eq!(st.belief[3][0], 1.0);
    }

    #[test]
    fn a_sighting_is_checked_by_who_was_there() {
        // The imposter says "I saw 3 in room 1": listener 3 knows it was in room 0, and 4 was
        // with 3 — both catch the lie; the reporter 2 was in room 1 with the imposter, and 3 was
        // not there: caught too.
        let mut st = at_report();
        hear_and_settle(&mut st, 0, Message::Saw(3, 1));
        for l in [2, 3, 4] {
            assert_eq!(st.belief[l][0], 1.0, "listener {l}");
        }
        // A true sighting, "I saw 4 in room 0" by 3: listener 4 was there, finds it true, and the
        // speaker looks innocent: h = 3 weighs 1/rooms = 1/2 against 1 for h = 0 and h = 2.
        // Listener 2 was in room 1 with neither: it cannot check, and learns nothing.
        let mut st = at_report();
        hear_and_settle(&mut st, 3, Message::Saw(4, 0));
        let total = 1.0 + 1.0 + 0.5;
        assert!((st.belief[4][0] - 1.0 / total).abs() < 1e-12);
        assert!((st.belief[4][3] - 0.5 / total).abs() < 1e-12);
        assert_eq!(st.belief[2], at_report().belief[2]);
    }

    #[test]
    fn a_kill_report_weighs_by_the_speaker_model() {
        // Crewmate 2 reports "I saw 0 kill". Listener 3 holds h ∈ {0, 2, 4}: h = 0: KILL_TRUE;
        // h = 2 (an imposter framing one of the 3 others): 1/3; h = 4: KILL_FALSE.
        let mut st = at_report();
        let (t, f) = (model::KILL_TRUE, model::KILL_FALSE);
        let (listening, _) = hear_and_settle(&mut st, 2, Message::SawKill(0));
        let p = t / (t + 1.0 / 3.0 + f);
        assert!((st.belief[3][0] - p).abs() < 1e-12);
        assert_eq!(listening[0].0, 3);
        assert!((listening[0].1 - p.ln()).abs() < 1e-12);
    }

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
