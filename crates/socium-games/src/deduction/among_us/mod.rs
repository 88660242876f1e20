//! An Among Us-style game: crewmates do tasks on a grid of rooms while hidden imposters kill them.
//!
//! Rules after Sarkar et al. (2025, "Training Language Models for Social Deduction with
//! Multi-Agent Reinforcement Learning", AAMAS), checked against their released code
//! (SocialDeductionLLM, `src/string_env.py` `StringAmogus`); [`Preset`] names Socium's rules and
//! the original's evaluation and training settings, and each rule below that differs between
//! them is a setting ([`Settings`]). A grid of rooms (`width × height`, or one of `grids` drawn
//! per episode), players of whom `imposters` are imposters, every crewmate has `tasks` tasks in
//! random rooms, each taking `task_steps` steps. Each step of play every living player who is not
//! busy acts at once: move north, south, east or west, do a task, report a body in its room
//! (crewmates only unless `imposters_report`), or wait; an imposter may instead kill a player in
//! its room (or walking into or out of it) once `kill_cooldown` steps have passed since the game
//! began, its last kill or (with `regroup`) the last meeting. With `commit` (the original's pace)
//! a move or a task is one act that keeps the player busy and blind to the rooms for
//! `task_steps` steps, and a kill is seen only by those in the room not at a task; without, every
//! act takes one step and everyone else in the room sees a kill. A report starts a discussion:
//! the living players speak in turn (`talk`), `messages` times each: accuse a player, vouch for
//! one, claim "I was in room r", report "I saw player j in room r" (claims and sightings speak of
//! the step of the report), report "I saw player j kill", say free text (where the scenario allows
//! it: `free_text`, the longest message in characters, kept verbatim), or stay silent. Then
//! everyone votes for a player (itself too with `self_vote`) or skips; a plurality ejects the
//! player (its role announced with `reveal_ejected`), a tie (or a plurality of skips) ejects
//! nobody; with `regroup` everyone returns to the start room. The game ends, in the original's
//! order (`check_win_conditions`), when no imposter is left, when the imposters are at least as
//! many as the crewmates, or when the living crewmates' tasks are all done. An episode is
//! truncated by the scenario's `max_steps` or, on the original's clock, by `time_limit`.
//!
//! Beliefs, after the paper: every player holds a belief, a probability over who the imposter is,
//! and states it with every action. Scripted players' beliefs are the game's Bayesian posteriors
//! (see [`model`]); external and policy players supply theirs, and the game keeps what they
//! supplied last. The *listening* reward of a message is each living crewmate listener's
//! log-probability of the true imposters after it; the *speaking* reward is the change across it
//! in the summed probability that the living crewmates (the speaker too, with `speaker_in_pool`)
//! give the true imposters (negated for an imposter speaker). Both are known once the listeners have answered,
//! so they settle at the step after the message (every living player acts at every step of a
//! discussion and at the vote), as reward entries naming the message — or at the message's own
//! step, on the beliefs as they stand, when the step limit truncates the episode there. The
//! potential `belief`, for potential-based shaping, is a crewmate's probability of the true
//! imposters (0 for an imposter).
//!
//! Differences from the original that remain (docs/scenarios.md §3.6 lists them with their
//! reasons): messages are typed acts with rendered text rather than free language, and the
//! listening signal is a reward rather than a supervised loss.
//!
//! The action of `n` players is `Tuple(Discrete(acts::count(n, rooms)), Simplex(n))`, and
//! `Text(free_text)` after them where free text is allowed: an act, a belief and the text. Acts
//! (see [`acts`]): wait / stay silent / skip the vote; move north, south, east, west; do a task;
//! report a body; aim at player `j` (kill during play, accuse in discussion, vote); vouch for `j`;
//! claim room `r`; saw `j` in room `r`; saw `j` kill; say the text. The mask says which acts are
//! legal for whom at each step: in a discussion the players who are not speaking may only wait.
//! The belief, `n` probabilities summing to 1, gives player `j`'s chance to be an imposter.
//!
//! The module's files: `layout` (the grid of rooms, the act numbering [`acts`], the observation
//! layout [`obs`]), `talk` (discussion messages and the record of what was said), `belief` (the
//! scripted players' Bayesian beliefs and the listening and speaking rewards), `rules` (the state,
//! turns, observations, resolution, rewards and metrics), `bots` (the scripted [`Strategy`]s,
//! which decide from their own observations and never read another player's role, room or
//! tasks) and `prompt` (a player's situation in words from its row and mask, for a language
//! model).

mod belief;
mod bots;
mod layout;
mod prompt;
mod rules;
mod talk;

pub use crate::deduction::Talk;
pub use belief::model;
pub use bots::Strategy;
pub use layout::{acts, obs};
pub use rules::Stage;

use serde::Deserialize;
use socium_core::{
    AgentId, AgentSpec, DimId, DimensionInfo, GameBuilder, MetricId, MetricInfo, Phase,
    PotentialId, PotentialInfo, Prompt, Rules, Space, StrategyInfo, TurnOrder,
    bounded::{Count, Finite},
};
use std::sync::Arc;

/// Declares the settings once: [`AmongUsConfig`], the table as written (the `rules` preset and
/// every key optional, to override it), and [`Settings`], the values in force.
macro_rules! settings {
    ($($(#[doc = $doc:literal])* $field:ident: $ty:ty,)*) => {
        /// Settings of `[game.among_us]` as written: a preset (`rules`, default `"socium"`) and
        /// any key of [`Settings`] to override it.
        #[derive(Clone, Debug, Default, Deserialize, PartialEq)]
        #[serde(default, deny_unknown_fields)]
        pub struct AmongUsConfig {
            /// The preset the other keys start from.
            pub rules: Preset,
            $($(#[doc = $doc])* pub $field: Option<$ty>,)*
        }

        /// The settings in force: the preset's, with the scenario's keys over them.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Settings {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl AmongUsConfig {
            /// The preset's settings with this table's keys over them.
            pub fn settings(&self) -> Settings {
                let base = self.rules.settings();
                Settings { $($field: self.$field.clone().unwrap_or(base.$field),)* }
            }
        }
    };
}

settings! {
    /// Rooms per row of the grid.
    width: Count,
    /// Rows of the grid.
    height: Count,
    /// Grids, `[width, height]` each, one drawn at random per episode and laid in the top-left
    /// corner of the `width × height` grid (which sizes the observation); empty: the whole grid.
    grids: Vec<[u32; 2]>,
    /// Imposters (fewer than the crewmates).
    imposters: Count,
    /// Tasks per crewmate (the most, when `min_tasks` is set).
    tasks: Count,
    /// When set, each episode deals every crewmate a number of tasks drawn uniformly from
    /// `min_tasks..=tasks`.
    min_tasks: Option<Count>,
    /// Steps a task takes: of "do task" acts, or, with `commit`, of work after one.
    task_steps: Count,
    /// A move or a task commits the player (the original's pace): one act, then `task_steps`
    /// steps busy, seeing nothing of the rooms (a walker sees only a kill in the room it walks
    /// into), then one more before it acts again; a meeting cancels the work. Off: every act
    /// takes one step, a task `task_steps` "do task" acts.
    commit: bool,
    /// Where players start: in random rooms, or all in the start room.
    start: Start,
    /// After every meeting everyone returns to the start room and the kill cooldown restarts.
    regroup: bool,
    /// Imposters may report bodies (in the original only crewmates can).
    imposters_report: bool,
    /// Steps an imposter waits between kills (and before the first, and after a meeting with
    /// `regroup`).
    kill_cooldown: u32,
    /// Messages each living player says per discussion.
    messages: u32,
    /// The order of a discussion's speakers.
    talk: Talk,
    /// The speaking reward counts the speaker's own belief in the crew's summed belief, as the
    /// original does; off: only the listeners'.
    speaker_in_pool: bool,
    /// A vote may name the voter.
    self_vote: bool,
    /// An ejection announces the ejected player's role.
    reveal_ejected: bool,
    /// The losing side's `win` reward (the winners get +1).
    lose: Finite,
    /// A crew win by ejection pays every crewmate, dead or alive, +1 `task` per task it left
    /// unfinished, as the original does.
    ejection_pays_tasks: bool,
    /// A discussion begins at the first multiple of this many steps of the original's clock
    /// after the report (its `REPORTING_ALIGNMENT`); 1: at once.
    meeting_every: Count,
    /// The episode is truncated (no `win` reward) once the original's clock reaches this many
    /// steps; 0: no limit but the scenario's `max_steps`.
    time_limit: u32,
    /// How scripted imposters play.
    imposter: ImposterPlay,
    /// The longest free-text message an outside player may say in a discussion, in characters;
    /// 0 allows none.
    free_text: u32,
}

/// The presets of `[game.among_us] rules`: Socium's own rules and the two settings of Sarkar et
/// al.'s released code (SocialDeductionLLM, `src/string_env.py` `StringAmogus`, with the
/// arguments of `src/buffer_generator_full.py` `collect_real_buffers`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Socium's rules: a 3 × 2 grid, 3 tasks of 3 steps, cooldown 5; one step per act, random
    /// start rooms, reshuffled speakers, revealed roles, ±1 for the win.
    #[default]
    Socium,
    /// The original's evaluation (`src/validate_base.py`, `config = (2, 2, 4, 4)`): a 2 × 2
    /// grid, 4 tasks taking 3 steps, cooldown 5, and the original's pace, meetings (aligned to
    /// 50 steps, everyone back to the start room), talk, votes, +1/0 rewards and 300-step cap.
    SarkarEval,
    /// The original's training (`collect_real_buffers` with `randomize`, as every run of
    /// `src/scripts/script_trainall.sh`): the rules of `sarkar_eval` on a grid drawn per episode
    /// from 3 × 1, 2 × 2 and 3 × 2, with 3 to 5 tasks, cooldown 6.
    SarkarTrain,
}

impl Preset {
    /// The preset's settings.
    pub fn settings(self) -> Settings {
        let count = |v| Count::new(v).expect("in range");
        let socium = Settings {
            width: count(3),
            height: count(2),
            grids: Vec::new(),
            imposters: count(1),
            tasks: count(3),
            min_tasks: None,
            task_steps: count(3),
            commit: false,
            start: Start::Random,
            regroup: false,
            imposters_report: true,
            kill_cooldown: 5,
            messages: 2,
            talk: Talk::Reshuffled,
            speaker_in_pool: false,
            self_vote: false,
            reveal_ejected: true,
            lose: Finite::new(-1.0).expect("finite"),
            ejection_pays_tasks: false,
            meeting_every: count(1),
            time_limit: 0,
            imposter: ImposterPlay::Lying,
            free_text: 0,
        };
        // The rules both of the original's settings share.
        let sarkar = Settings {
            commit: true,
            start: Start::Fixed,
            regroup: true,
            imposters_report: false,
            talk: Talk::Fixed,
            speaker_in_pool: true,
            self_vote: true,
            reveal_ejected: false,
            lose: Finite::new(0.0).expect("finite"),
            ejection_pays_tasks: true,
            meeting_every: count(50),
            time_limit: 300,
            ..socium.clone()
        };
        match self {
            Preset::Socium => socium,
            Preset::SarkarEval => Settings {
                width: count(2),
                height: count(2),
                tasks: count(4),
                task_steps: count(3),
                kill_cooldown: 5,
                ..sarkar
            },
            Preset::SarkarTrain => Settings {
                width: count(3),
                height: count(2),
                grids: vec![[3, 1], [2, 2], [3, 2]],
                tasks: count(5),
                min_tasks: Some(count(3)),
                task_steps: count(3),
                kill_cooldown: 6,
                ..sarkar
            },
        }
    }
}

/// Where players start an episode.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Each in a uniformly random room.
    Random,
    /// All in the start room, the middle (rounded down) of the first row, as in the original
    /// (`StringAmogus.__init__`: `((width − 1) // 2, 0)`).
    Fixed,
}

/// How scripted imposters play (whatever the strategy, which sets how crewmates play). An
/// imposter reads its observation row and action mask (its team is in the row) and, when
/// `Lying`, how often each player was accused this discussion (said aloud, but the row shows
/// only who accused whom); it reads nothing hidden from it.
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

/// The most observation entries of all players together (2^24, 64 MiB of `f32` per env): each
/// player observes players² + players × rooms entries ([`obs::dim`]), so this bounds the players
/// and the rooms together (5 players on a 3 × 2 grid observe 945 entries in all, 100 players on
/// a 10 × 10 grid about 5 million).
pub const MAX_OBSERVATION_ENTRIES: usize = 1 << 24;

/// The most tasks of all players together, and the most messages of a discussion (2^20).
pub const MAX_TASKS_OR_MESSAGES: u64 = 1 << 20;

/// Reward dimension: +1 to the winning side, `lose` (−1 or 0) to the losing side, at the end.
pub const WIN: DimId = DimId(0);
/// Reward dimension: +1 for each task step done (with `commit`, for each task, when done).
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
/// crewmates (other than the speaker, unless `speaker_in_pool`) give the true imposters (to the
/// speaker; an imposter gets its negative; settled at the next step, attributed to the message).
pub const SPEAKING: DimId = DimId(6);
/// Reward dimension: a crewmate's information gain (IGPO, arXiv 2510.14967), the step's change
/// in the log-probability its belief gives the true imposters, on a private `believe`
/// utterance; over an episode it sums to `log p_T − log p_0`.
pub const INFORMATION: DimId = DimId(7);

/// Lowest probability the listening reward takes the log of (a belief of 0 would give −∞).
pub const LISTENING_FLOOR: f64 = 1e-6;

/// The reward dimensions, in [`DimId`] order.
static DIMENSIONS: [DimensionInfo; 8] = [
    DimensionInfo {
        name: "win",
        summary: "+1 to the winning side, `lose` (−1 or 0) to the losing side, when the game ends",
        default_weight: 1.0,
        // Not declared: `lose` may be any number.
        range: None,
    },
    DimensionInfo {
        name: "task",
        summary: "+1 for each step of a task done, or each task with `commit` (shaping)",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "kill",
        summary: "+1 to an imposter for each kill (shaping)",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "report",
        summary: "+1 for reporting a body (shaping)",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "vote",
        summary: "+1 to a crewmate for a vote against an imposter (shaping)",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "listening",
        summary: "a crewmate listener's log-probability of the true imposters after a message",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "speaking",
        summary: "change across a message in the crew's summed belief in the true imposters \
                  (negated for an imposter speaker)",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "information",
        summary: "a crewmate's information gain: the step's change in the log-probability its \
                  belief gives the true imposters (IGPO)",
        default_weight: 0.0,
        range: None,
    },
];

/// Potential: a crewmate's belief in the true imposters, the summed probability its belief gives
/// them (0 for an imposter; a dead crewmate's stays as it was at its death).
pub const BELIEF: PotentialId = PotentialId(0);

static POTENTIALS: [PotentialInfo; 1] = [PotentialInfo {
    name: "belief",
    summary: "a crewmate's belief in the true imposters (the summed probability its belief gives \
              them); 0 for an imposter",
}];

/// Metric: 1 when the imposters won the episode, 0 when the crewmates did.
pub const IMPOSTER_WIN: MetricId = MetricId(0);
/// Metric: 1 when the crewmates won by finishing every task.
pub const TASK_WIN: MetricId = MetricId(1);
/// Metric: 1 when the crewmates won the episode, 0 when the imposters did.
pub const CREW_WIN: MetricId = MetricId(2);

/// The metrics, in [`MetricId`] order.
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

impl Rules for AmongUsConfig {
    fn observation_space(&self, agents: usize) -> Space {
        Space::uniform_box(obs::dim(agents, self.settings().rooms()), 0.0, 1.0)
    }

    fn action_space(&self, agents: usize) -> Space {
        let settings = self.settings();
        let mut parts = vec![
            Space::Discrete {
                n: acts::count(agents, settings.rooms()) as u32,
            },
            Space::Simplex { n: agents as u32 },
        ];
        if settings.free_text > 0 {
            parts.push(Space::Text {
                max_chars: settings.free_text,
            });
        }
        Space::Tuple(parts)
    }

    fn turn_order(&self) -> TurnOrder {
        TurnOrder::Chosen
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DIMENSIONS
    }

    fn strategies(&self) -> &'static [StrategyInfo] {
        &bots::STRATEGIES
    }

    fn metrics(&self) -> &'static [MetricInfo] {
        &METRICS
    }

    fn potentials(&self) -> &'static [PotentialInfo] {
        &POTENTIALS
    }

    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        let settings = self.settings();
        let (n, m) = (agents.len(), settings.imposters.get() as usize);
        if 2 * m >= n {
            return Err(format!(
                "{m} imposters among {n} players: the imposters must be fewer than the crewmates"
            ));
        }
        // Bounded before anything is sized by it; the first test keeps it from overflowing.
        let rooms = settings.rooms();
        let entries = (n <= 1 << 12 && rooms <= 1 << 24).then(|| n * obs::dim(n, rooms));
        if entries.is_none_or(|e| e > MAX_OBSERVATION_ENTRIES) {
            let (w, h) = (settings.width.get(), settings.height.get());
            let found = entries.map_or(format!("more than {MAX_OBSERVATION_ENTRIES}"), |e| {
                e.to_string()
            });
            return Err(format!(
                "{n} players on a {w} × {h} grid observe {found} entries in all (players² + \
                 players × rooms each): expected at most {MAX_OBSERVATION_ENTRIES}"
            ));
        }
        let (tasks, steps) = (
            settings.tasks.get() as u64,
            settings.task_steps.get() as u64,
        );
        let all_tasks = n as u64 * tasks;
        if all_tasks > MAX_TASKS_OR_MESSAGES || all_tasks * steps > u32::MAX as u64 {
            return Err(format!(
                "{n} players with {tasks} tasks of {steps} steps each: expected at most \
                 {MAX_TASKS_OR_MESSAGES} tasks and {} task steps in all",
                u32::MAX
            ));
        }
        let messages = n as u64 * settings.messages as u64;
        if messages > MAX_TASKS_OR_MESSAGES {
            return Err(format!(
                "{n} players saying {} messages each in a discussion: expected at most \
                 {MAX_TASKS_OR_MESSAGES} messages in all",
                settings.messages
            ));
        }
        settings.check_grids_and_tasks()
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        game.insert_strategies(bots::strategy);
        let settings = Arc::new(self.settings());
        game.env_component(move || rules::State::new(Arc::clone(&settings), n))
            .env_component(rules::Events::default)
            .add_systems(Phase::Reset, rules::reset)
            .add_systems(Phase::Observe, rules::turns_and_observations)
            .add_systems(Phase::Decide, bots::decide)
            .add_systems(Phase::Resolve, rules::resolve)
            .add_systems(Phase::Reward, rules::reward)
            .add_systems(Phase::Record, rules::record);
        if game.shapes() {
            game.add_systems(Phase::Observe, belief::potential);
        }
    }

    fn prompt(&self, agents: usize, agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        prompt::render(&self.settings(), agents, agent, obs, mask)
    }
}
