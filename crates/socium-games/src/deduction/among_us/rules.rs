//! The rules: the game's state ([`State`]), the deal at a reset, whose turn it is and what each
//! player may do and sees, the resolution of a step (moves, tasks, kills, reports, messages,
//! votes and ejections), the end of the game, the acts it credits and the metrics it records.

use super::belief::{Pending, settle};
use super::talk::{Message, Said};
use super::{
    CREW_WIN, IMPOSTER_WIN, INFORMATION, KILL, LISTENING, REPORT, SPEAKING, Settings, Start, TASK,
    TASK_WIN, VOTE, WIN, acts, obs,
};
use crate::deduction::speaking_order;
use bevy_ecs::prelude::*;
use rand::{Rng, seq::SliceRandom};
use socium_core::{
    Act, ActionMasks, Actions, AgentId, Agents, Audience, Clock, Controller, DimId, Done, Metrics,
    Observations, Resetting, RewardLedger, Roles, SimRng, Stepping, Texts, Turn, UtteranceId,
    Utterances,
};
use std::sync::Arc;

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

/// The stages in the order of the observation's stage block.
pub(super) const STAGES: [Stage; 3] = [Stage::Play, Stage::Discussion, Stage::Vote];

/// One of a crewmate's tasks.
#[derive(Clone, Debug, Default)]
pub(super) struct Task {
    /// Where it is done.
    pub(super) room: usize,
    /// Steps of it done.
    pub(super) done: u32,
}

/// Work that commits a player for several steps (the `commit` pace): it does not act until it
/// is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Busy {
    /// Doing task `task` of its list, started by the act `started`.
    Task {
        task: usize,
        started: UtteranceId,
        left: u32,
    },
    /// Walking from `from` into its `room`.
    Walk { from: usize, left: u32 },
}

impl Busy {
    /// Steps until the player acts again: the work is under way while more than 1 is left.
    fn left(self) -> u32 {
        match self {
            Busy::Task { left, .. } | Busy::Walk { left, .. } => left,
        }
    }

    /// The room a walker is leaving, while it walks.
    fn leaving(self) -> Option<usize> {
        match self {
            Busy::Walk { from, left } if left > 1 => Some(from),
            _ => None,
        }
    }
}

/// The game's state, per env.
#[derive(Component, Debug)]
pub(super) struct State {
    /// The scenario's settings, one copy for every env of the World (a copy an env was
    /// scattered allocations a sweep of the envs missed).
    pub(super) config: Arc<Settings>,
    /// This episode's grid, laid in the top-left corner of the whole one.
    pub(super) grid: [u32; 2],
    /// Each player's work under way, with the `commit` pace.
    pub(super) busy: Vec<Option<Busy>>,
    /// The original's clock (SocialDeductionLLM `StringAmogus.world_time`) at this step, for
    /// meetings aligned to it and its time limit: one step per step of play, two per message,
    /// and the steps of a meeting's announcements and the wait for its start, which Socium
    /// does not play.
    pub(super) world_time: u32,
    /// Who is an imposter.
    pub(super) imposter: Vec<bool>,
    /// Who is alive.
    pub(super) alive: Vec<bool>,
    /// `known_dead[a][j]`: `a` knows that `j` is dead. As in the original
    /// (`StringAmogus.notify_death`), a kill is told to its victim and the bystanders who see
    /// it; a body is seen by whoever stands in its room; everyone learns every death when a
    /// meeting begins (the living are listed), and an ejection at once.
    pub(super) known_dead: Square<bool>,
    /// Each player's room.
    pub(super) room: Vec<usize>,
    /// Each crewmate's tasks, in the order dealt (none for an imposter).
    pub(super) tasks: Vec<Vec<Task>>,
    /// The room of each unreported body.
    pub(super) bodies: Vec<Option<usize>>,
    /// `witnessed[a][j]`: `a` saw `j` kill.
    pub(super) witnessed: Square<bool>,
    /// Steps until each imposter may kill again.
    pub(super) cooldown: Vec<u32>,
    /// Where the game is.
    pub(super) stage: Stage,
    /// The speakers left in this discussion, the next last.
    pub(super) speakers: Vec<AgentId>,
    /// Each player's room when the discussion began (the truth behind claims).
    pub(super) rooms_at_report: Vec<usize>,
    /// The step of the report that began the discussion.
    pub(super) report_step: u32,
    /// What was said this discussion.
    pub(super) said: Said,
    /// `belief[a][j]`: player `a`'s probability that `j` is the imposter, normalised over `j`
    /// (a scripted imposter knows its team): the game's posterior for a scripted player, the
    /// belief last supplied for any other.
    pub(super) belief: Square<f64>,
    /// Whose beliefs the game updates: its scripted players'.
    pub(super) scripted: Vec<bool>,
    /// Who may say free text: the players acting from outside.
    pub(super) external: Vec<bool>,
    /// The last message, whose listening and speaking rewards settle at the next step.
    pub(super) pending: Option<Pending>,
    /// Each crewmate's log-probability of the true imposters when last measured, the baseline
    /// of its information gain.
    pub(super) log_truth: Vec<f64>,
}

/// `n × n` values in one vector, a row a player (`table[a][j]`: what `a` holds of `j`): one
/// allocation an env where a vector of rows took `n + 1`, each a miss of its own in a sweep of
/// many envs.
#[derive(Clone, Debug)]
pub(super) struct Square<T> {
    n: usize,
    cells: Vec<T>,
}

impl<T: Clone> Square<T> {
    /// `n` rows of `n` values, all `value`.
    pub(super) fn new(n: usize, value: T) -> Self {
        Square {
            n,
            cells: vec![value; n * n],
        }
    }

    /// Sets every value to `value`.
    pub(super) fn fill(&mut self, value: T) {
        self.cells.fill(value);
    }
}

impl<T> Square<T> {
    /// Column `j`: every row's value for player `j`.
    pub(super) fn column_mut(&mut self, j: usize) -> impl Iterator<Item = &mut T> {
        self.cells.iter_mut().skip(j).step_by(self.n.max(1))
    }
}

impl<T> std::ops::Index<usize> for Square<T> {
    type Output = [T];

    fn index(&self, a: usize) -> &[T] {
        &self.cells[a * self.n..][..self.n]
    }
}

impl<T> std::ops::IndexMut<usize> for Square<T> {
    fn index_mut(&mut self, a: usize) -> &mut [T] {
        &mut self.cells[a * self.n..][..self.n]
    }
}

impl State {
    /// A game of `n` players, to be dealt by `reset`.
    pub(super) fn new(config: Arc<Settings>, n: usize) -> Self {
        let rooms = config.rooms();
        State {
            grid: config.full_grid(),
            busy: vec![None; n],
            world_time: 0,
            config,
            imposter: vec![false; n],
            alive: vec![true; n],
            known_dead: Square::new(n, false),
            room: vec![0; n],
            tasks: vec![Vec::new(); n],
            bodies: vec![None; n],
            witnessed: Square::new(n, false),
            cooldown: vec![0; n],
            stage: Stage::Play,
            speakers: Vec::new(),
            rooms_at_report: vec![0; n],
            report_step: 0,
            said: Said::new(n, rooms),
            belief: Square::new(n, 0.0),
            log_truth: vec![0.0; n],
            scripted: vec![false; n],
            external: vec![false; n],
            pending: None,
        }
    }

    /// The living players, in id order.
    pub(super) fn living(&self) -> impl Iterator<Item = AgentId> + '_ {
        (0..self.alive.len())
            .filter(|&a| self.alive[a])
            .map(|a| AgentId(a as u32))
    }

    /// `a` learns that `j` was killed: a scripted crewmate rules it out.
    fn learn_death(&mut self, a: usize, j: usize) {
        if !std::mem::replace(&mut self.known_dead[a][j], true) {
            self.rule_out_for(a, j);
        }
    }

    /// Every player learns every death: a meeting's list of the living (an ejection is known to
    /// all at once).
    fn announce_deaths(&mut self) {
        let n = self.alive.len();
        for j in 0..n {
            if !self.alive[j] {
                (0..n).for_each(|a| self.learn_death(a, j));
            }
        }
    }

    /// Whoever sees a room (not at work) learns the deaths of the bodies lying there.
    fn see_bodies(&mut self) {
        if self.bodies.iter().all(Option::is_none) {
            return;
        }
        let n = self.alive.len();
        for a in 0..n {
            for j in 0..n {
                let sees = self.alive[a] && !self.at_work(a);
                if sees && self.bodies[j] == Some(self.room[a]) {
                    self.learn_death(a, j);
                }
            }
        }
    }

    /// Task steps left, over the living crewmates: a dead crewmate's tasks no longer stand
    /// between the crew and a task win, as in the original's `check_no_remaining_tasks`
    /// (SocialDeductionLLM, `src/string_env.py`).
    fn task_steps_left(&self) -> u32 {
        let steps = self.config.task_steps.get();
        self.living_tasks().map(|t| steps - t.done).sum()
    }

    /// The living crewmates' tasks.
    fn living_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .zip(&self.alive)
            .filter(|(_, alive)| **alive)
            .flat_map(|(tasks, _)| tasks)
    }

    /// How the game ended, if it is over.
    /// Checked in the original's order (`StringAmogus.check_win_conditions`): no imposter left,
    /// then imposters as many as the crew, then no task left: a kill that leaves one crewmate
    /// against one imposter wins for the imposter even if the crewmate's tasks are done.
    fn winner(&self) -> Option<Outcome> {
        let imposters = self.living().filter(|a| self.imposter[a.index()]).count();
        let crew = self.living().count() - imposters;
        let (imposters_won, by_tasks) = if imposters == 0 {
            (false, false)
        } else if imposters >= crew {
            (true, false)
        } else if self.task_steps_left() == 0 {
            (false, true)
        } else {
            return None;
        };
        Some(Outcome {
            imposters_won,
            by_tasks,
        })
    }

    /// The room `dir` leads to from `room` on this episode's grid, if any.
    pub(super) fn neighbour(&self, room: usize, dir: usize) -> Option<usize> {
        self.config.neighbour(self.grid, room, dir)
    }

    /// Whether `a` is at work that keeps it from seeing the rooms (a task, or a walk, under way).
    fn at_work(&self, a: usize) -> bool {
        self.busy[a].is_some_and(|b| b.left() > 1)
    }

    /// Whether `j` is walking between rooms.
    fn walking(&self, j: usize) -> bool {
        matches!(self.busy[j], Some(Busy::Walk { left, .. }) if left > 1)
    }

    /// Whether `j` stands in `room` or walks into or out of it.
    fn passes(&self, j: usize, room: usize) -> bool {
        self.room[j] == room || self.busy[j].and_then(Busy::leaving) == Some(room)
    }

    /// Whether `a` has an unfinished task in its room.
    fn has_task_here(&self, a: usize) -> bool {
        let steps = self.config.task_steps.get();
        self.tasks[a]
            .iter()
            .any(|t| t.room == self.room[a] && t.done < steps)
    }

    /// Whether a body lies in `a`'s room.
    fn body_here(&self, a: usize) -> bool {
        self.bodies.iter().any(|b| *b == Some(self.room[a]))
    }
}

/// How a game ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Whether the imposters won (else the crew).
    pub(super) imposters_won: bool,
    /// Whether the crew won by finishing every task.
    pub(super) by_tasks: bool,
}

/// What a step did, for the reward components and metrics.
#[derive(Component, Debug, Default)]
pub(super) struct Events {
    /// The acts the step's rules credit, in the order they happened.
    pub(super) credits: Vec<Credit>,
    /// The end, and the act that decided it.
    pub(super) end: Option<(Outcome, UtteranceId)>,
}

/// An act the rules credit, for the reward component to pay on its dimension. Each names the
/// player credited and the act (utterance) the payment is attributed to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Credit {
    /// A crewmate's stated belief moved toward the truth by `gain` (`information`).
    Informed {
        player: AgentId,
        act: UtteranceId,
        gain: f64,
    },
    /// A crewmate voted to eject an imposter (`vote`).
    VotedOut { player: AgentId, act: UtteranceId },
    /// An imposter killed (`kill`).
    Killed { player: AgentId, act: UtteranceId },
    /// A body was reported (`report`).
    Reported { player: AgentId, act: UtteranceId },
    /// A task was finished, credited to the act that began it (`task`).
    Task { player: AgentId, act: UtteranceId },
    /// The crew won by an ejection while a crewmate still had `left` tasks (`task`, one each).
    TasksLeft {
        player: AgentId,
        act: UtteranceId,
        left: usize,
    },
    /// A message moved the crew's pooled belief in the imposters by `moved` toward the truth
    /// (`speaking`).
    Spoke {
        player: AgentId,
        act: UtteranceId,
        moved: f64,
    },
    /// A crewmate heard a message and then gave the imposters `ln_belief` (the log of its
    /// belief, floored; `listening`).
    Listened {
        player: AgentId,
        act: UtteranceId,
        ln_belief: f64,
    },
}

impl Credit {
    /// The credit as a ledger entry: who, on which act, which dimension, how much.
    fn entry(self) -> (AgentId, UtteranceId, DimId, f64) {
        match self {
            Credit::Informed { player, act, gain } => (player, act, INFORMATION, gain),
            Credit::VotedOut { player, act } => (player, act, VOTE, 1.0),
            Credit::Killed { player, act } => (player, act, KILL, 1.0),
            Credit::Reported { player, act } => (player, act, REPORT, 1.0),
            Credit::Task { player, act } => (player, act, TASK, 1.0),
            Credit::TasksLeft { player, act, left } => (player, act, TASK, left as f64),
            Credit::Spoke { player, act, moved } => (player, act, SPEAKING, moved),
            Credit::Listened {
                player,
                act,
                ln_belief,
            } => (player, act, LISTENING, ln_belief),
        }
    }
}

/// Deals the roles, rooms, tasks and beliefs of every env being reset, at random.
pub(super) fn reset(
    agents: Res<Agents>,
    mut envs: Query<(&mut State, &mut SimRng, &mut Roles), Resetting>,
) {
    for (state, rng, mut roles) in &mut envs {
        let state = state.into_inner();
        reset_env(state, &agents, rng.into_inner());
        for (a, &imposter) in agents.ids().zip(&state.imposter) {
            roles.set(a, if imposter { "imposter" } else { "crewmate" });
        }
    }
}

/// Deals one env: who is scripted or external, roles, rooms, tasks and beliefs.
fn reset_env(state: &mut State, agents: &Agents, rng: &mut SimRng) {
    for a in agents.ids() {
        state.scripted[a.index()] = matches!(agents.controller(a), Controller::Scripted(_));
        state.external[a.index()] = *agents.controller(a) == Controller::External;
    }
    state.pending = None;
    let rng = &mut rng.chance;
    let n = state.alive.len();
    let grids = &state.config.grids;
    state.grid = match grids.len() {
        0 => state.config.full_grid(),
        k => grids[rng.random_range(0..k)],
    };
    let rooms: Vec<usize> = (0..state.config.rooms())
        .filter(|&r| state.config.on(state.grid, r))
        .collect();
    let tasks = match state.config.min_tasks {
        Some(min) => rng.random_range(min.get()..=state.config.tasks.get()),
        None => state.config.tasks.get(),
    };
    let start = state.config.start_room(state.grid);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    state.imposter.fill(false);
    for &a in order.iter().take(state.config.imposters.get() as usize) {
        state.imposter[a] = true;
    }
    state.alive.fill(true);
    state.known_dead.fill(false);
    for a in 0..n {
        state.room[a] = match state.config.start {
            Start::Random => rooms[rng.random_range(0..rooms.len())],
            Start::Fixed => start,
        };
        // Refilled, not made anew: an episode's deal allocates nothing.
        state.tasks[a].clear();
        if !state.imposter[a] {
            state.tasks[a].extend((0..tasks).map(|_| Task {
                room: rooms[rng.random_range(0..rooms.len())],
                done: 0,
            }));
        }
        state.cooldown[a] = state.config.kill_cooldown;
    }
    state.busy.fill(None);
    // The original plays its first act at world time 3, after its introduction (0), the
    // positions (1) and the first prompts (2): `StringAmogus.step`, `process_state`.
    state.world_time = 3;
    state.bodies.fill(None);
    state.witnessed.fill(false);
    state.stage = Stage::Play;
    state.speakers.clear();
    state.said.clear();
    state.deal_beliefs();
    state.information(true);
}

/// Who acts at the coming step, what each may do and what each sees, in every env.
pub(super) fn turns_and_observations(
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

/// One env's turns and masks (by stage: everyone living plays or votes; in a discussion only
/// the speaker says anything, the others wait and state their beliefs) and observations.
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
            // A player at work does not act until it is done.
            for a in state.living().map(AgentId::index) {
                if state.busy[a].is_some() {
                    continue;
                }
                let kill_ready = state.imposter[a] && state.cooldown[a] == 0;
                let reports = state.config.imposters_report || !state.imposter[a];
                allow(a, &|act| match act {
                    acts::WAIT => true,
                    1..=4 => state.neighbour(state.room[a], act - 1).is_some(),
                    acts::TASK => state.has_task_here(a),
                    acts::REPORT => reports && state.body_here(a),
                    // Whoever stands in the imposter's room, or walks into or out of it.
                    _ => acts::aimed(n, act).is_some_and(|j| {
                        kill_ready
                            && other(a, j)
                            && !state.imposter[j]
                            && state.passes(j, state.room[a])
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
                    Some(Message::Saw(j, r)) => other(a, j) && state.config.on(state.grid, r),
                    Some(Message::Claim(r)) => state.config.on(state.grid, r),
                    Some(Message::Say) => state.config.free_text > 0 && state.external[a],
                    Some(Message::Silent) => true,
                    None => false,
                });
            }
        }
        Stage::Vote => {
            let self_vote = state.config.self_vote;
            for a in state.living().map(AgentId::index) {
                allow(a, &|act| {
                    act == acts::WAIT
                        || acts::aimed(n, act).is_some_and(|j| other(a, j) || (self_vote && j == a))
                });
            }
        }
    }
    observe(state, obs);
}

/// Writes every player's observation row, block by block of [`obs::LAYOUT`].
fn observe(state: &State, obs: &mut Observations) {
    let (n, rooms) = (state.alive.len(), state.config.rooms());
    let steps = state.config.task_steps.get();
    // Each player's task steps in all and left (none for an imposter).
    let work: Vec<(u32, u32)> = (state.tasks.iter())
        .map(|tasks| {
            let left = tasks.iter().map(|t| steps - t.done).sum();
            (tasks.len() as u32 * steps, left)
        })
        .collect();
    for a in 0..n {
        let row = obs.0.row_mut(AgentId(a as u32));
        row.fill(0.0);
        row[obs::IMPOSTER] = f32::from(u8::from(state.imposter[a]));
        let stage = STAGES.iter().position(|&s| s == state.stage);
        row[obs::STAGE + stage.expect("every stage is in STAGES")] = 1.0;
        // The share of the task win reached, over the crewmates `a` does not know dead (the
        // win counts the living's): a death it has not learned moves nothing.
        let (mut total, mut left) = (0, 0);
        for j in (0..n).filter(|&j| !state.known_dead[a][j]) {
            total += work[j].0;
            left += work[j].1;
        }
        row[obs::TASKS_DONE] = 1.0 - left as f32 / total.max(1) as f32;
        let own_left = state.tasks[a].iter().filter(|t| t.done < steps).count();
        row[obs::OWN_TASKS] = own_left as f32 / state.config.tasks.get() as f32;
        row[obs::KILL_READY] = f32::from(u8::from(state.imposter[a] && state.cooldown[a] == 0));
        row[obs::room(n, rooms) + state.room[a]] = 1.0;
        for t in state.tasks[a].iter().filter(|t| t.done < steps) {
            row[obs::task_rooms(n, rooms) + t.room] = 1.0;
        }
        row[obs::me(n, rooms) + a] = 1.0;
        // A player at work sees nothing of the rooms.
        let sees = !state.at_work(a);
        for j in 0..n {
            let bit = |b: bool| f32::from(u8::from(b));
            row[obs::alive(n, rooms) + j] = bit(!state.known_dead[a][j]);
            row[obs::here(n, rooms) + j] =
                if !sees || !state.alive[j] || !state.passes(j, state.room[a]) {
                    0.0
                } else if state.walking(j) {
                    obs::PASSING
                } else {
                    1.0
                };
            row[obs::bodies(n, rooms) + j] = bit(sees && state.bodies[j] == Some(state.room[a]));
            row[obs::witnessed(n, rooms) + j] = bit(state.witnessed[a][j]);
            row[obs::team(n, rooms) + j] = bit(state.imposter[a] && state.imposter[j]);
            row[obs::belief(n, rooms) + j] = state.belief[a][j] as f32;
        }
        state.said.observe(row);
    }
}

/// Ends the game if a side has won, naming the act that decided it.
fn check_end(state: &State, decided_by: UtteranceId, events: &mut Events, done: &mut Done) {
    if events.end.is_none()
        && let Some(outcome) = state.winner()
    {
        events.end = Some((outcome, decided_by));
        done.terminate_all();
    }
}

/// Applies every stepped env's actions.
#[allow(clippy::type_complexity)]
pub(super) fn resolve(
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

/// One env's step: the beliefs stated with the actions are kept, the last message's rewards
/// settle, then the stage's rules apply.
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
    events.credits.clear();
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
    let stage = state.stage;
    match state.stage {
        Stage::Play => {
            play(
                state,
                &acting,
                &act_of,
                &mut rng.chance,
                utterances,
                events,
                done,
            );
            if state.stage != Stage::Play {
                state.report_step = clock.step();
            }
        }
        Stage::Discussion => discuss(state, &act_of, texts, clock, utterances, events, done),
        Stage::Vote => vote(state, &acting, &act_of, utterances, events, done),
    }
    state.advance_world_time(stage);
    let limit = state.config.time_limit;
    if limit > 0 && state.world_time >= limit && events.end.is_none() {
        // The original's time limit: the episode ends without an outcome, and the last
        // message's listeners have no step left to answer.
        done.truncate_all();
        if let Some(p) = state.pending.take() {
            settle(state, p, events);
        }
    }
    // Information gain: each crewmate whose belief in the truth moved states it, privately.
    for (a, gain, p) in state.information(false) {
        let act = Act {
            kind: "believe",
            target: None,
            value: p,
        };
        let u = utterances.say(id(a), Audience::Agent(id(a)), act, || {
            format!("{} now gives the imposters {p:.3}", id(a))
        });
        events.credits.push(Credit::Informed {
            player: id(a),
            act: u,
            gain,
        });
    }
}

/// A step of discussion: the speaker's message, noted, heard by the scripted crewmates, said;
/// its rewards wait for the listeners' beliefs at the next step (or settle now at the step
/// limit).
fn discuss(
    state: &mut State,
    act_of: &dyn Fn(usize) -> usize,
    texts: &Texts,
    clock: &Clock,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    let n = state.alive.len();
    let speaker = state.speakers.pop().expect("a speaker acts in discussion");
    let message = Message::from_act(n, state.config.rooms(), act_of(speaker.index()))
        .expect("the mask allows only messages in discussion");
    state.said.note(speaker.index(), message);
    let before = state.pooled(speaker.index());
    state.hear(speaker.index(), message);
    let text = texts.get(speaker).unwrap_or_default();
    let words = || message.render(speaker, text, state.report_step);
    let u = match message {
        // Free text is the message itself: kept even where nothing is rendered.
        Message::Say => utterances.say_words(speaker, Audience::All, message.act(), words()),
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

/// The vote: every living player votes or skips; a strict plurality of one player ejects it and
/// reveals its role; play resumes.
fn vote(
    state: &mut State,
    acting: &[usize],
    act_of: &dyn Fn(usize) -> usize,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    let n = state.alive.len();
    let id = |a: usize| AgentId(a as u32);
    let mut votes = vec![0u32; n];
    let mut skips = 0u32;
    for &a in acting {
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
                    events.credits.push(Credit::VotedOut {
                        player: id(a),
                        act: u,
                    });
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
        // The dead stay in the episode, idle, until it ends: their side's result is theirs too.
        state.alive[j] = false;
        state.known_dead.column_mut(j).for_each(|k| *k = true);
        let reveal = state.config.reveal_ejected;
        // Unannounced, the role is still known when there is one imposter: the game goes on
        // only if the ejected was a crewmate.
        if reveal || state.config.imposters.get() == 1 {
            state.rule_out(j);
        }
        // The value is the truth, for the transcript's reader, announced or not.
        let value = f64::from(u8::from(state.imposter[j]));
        let act = Act {
            kind: "ejected",
            target: None,
            value,
        };
        let was = match (reveal, state.imposter[j]) {
            (false, _) => "",
            (true, true) => ": they were the imposter",
            (true, false) => ": they were a crewmate",
        };
        let u = utterances.say(id(j), Audience::All, act, || {
            format!("{} is ejected{was}", id(j))
        });
        check_end(state, u, events, done);
        if state.config.ejection_pays_tasks
            && events
                .end
                .is_some_and(|(o, _)| !o.imposters_won && !o.by_tasks)
        {
            state.pay_unfinished_tasks(u, events);
        }
    }
    if state.config.regroup {
        state.regroup();
    }
    state.stage = Stage::Play;
}

/// A step of play: kills first (from where everyone stood), then the work under way, then the
/// reports, tasks and moves of the players still alive.
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
    let (commit, steps) = (state.config.commit, state.config.task_steps.get());
    // The cooldown runs for every living imposter, at work or not.
    for a in 0..n {
        if state.alive[a] && state.imposter[a] {
            state.cooldown[a] = state.cooldown[a].saturating_sub(1);
        }
    }
    let mut act = vec![None; n];
    for &a in acting {
        act[a] = Some(act_of(a));
    }
    // Where each player is as the kills happen and whether it is at a task. With `commit` this
    // step's moves and tasks have begun, as the original applies every act before the deaths
    // (`StringAmogus.step`, `notify_death`): a walker sees into the room it walks into, a
    // worker sees nothing.
    let (at, working): (Vec<usize>, Vec<bool>) = (0..n)
        .map(|w| match (commit, act[w]) {
            (true, Some(m @ 1..=4)) => (
                state
                    .neighbour(state.room[w], m - 1)
                    .unwrap_or(state.room[w]),
                false,
            ),
            (true, Some(acts::TASK)) => (state.room[w], true),
            _ => (
                state.room[w],
                matches!(state.busy[w], Some(Busy::Task { left, .. }) if left > 1),
            ),
        })
        .unzip();
    let mut killed = vec![false; n];
    for &a in acting {
        let Some(j) = acts::aimed(n, act_of(a)).filter(|&j| !killed[a] && !killed[j]) else {
            continue;
        };
        let room = state.room[a];
        killed[j] = true;
        state.alive[j] = false;
        // The body lies in the killer's room, even a walker's caught at the door.
        state.bodies[j] = Some(room);
        state.room[j] = room;
        state.busy[j] = None;
        state.cooldown[a] = state.config.kill_cooldown;
        let witnesses: Vec<usize> = (0..n)
            .filter(|&w| w != a && state.alive[w] && at[w] == room && !working[w])
            .collect();
        for &w in &witnesses {
            state.witnessed[w][a] = true;
            state.witness(w, a);
            state.learn_death(w, j);
        }
        state.learn_death(a, j);
        state.learn_death(j, j);
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
        events.credits.push(Credit::Killed {
            player: id(a),
            act: u,
        });
        check_end(state, u, events, done);
    }
    state.work(events, done);
    let mut reported = None;
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
                events.credits.push(Credit::Reported {
                    player: id(a),
                    act: u,
                });
                reported.get_or_insert(id(a));
            }
            acts::TASK => {
                let task = state.tasks[a]
                    .iter()
                    .position(|t| t.room == room && t.done < steps)
                    .expect("the mask allows a task only where one is left");
                let act = Act {
                    kind: "task",
                    target: None,
                    value: room as f64,
                };
                let u = utterances.say(id(a), Audience::Agent(id(a)), act, || {
                    format!("{} works on a task in room {room}", id(a))
                });
                if commit {
                    state.busy[a] = Some(Busy::Task {
                        task,
                        started: u,
                        left: steps + 1,
                    });
                } else {
                    state.tasks[a][task].done += 1;
                    events.credits.push(Credit::Task {
                        player: id(a),
                        act: u,
                    });
                    check_end(state, u, events, done);
                }
            }
            m @ 1..=4 => {
                if let Some(to) = state.neighbour(room, m - 1) {
                    state.room[a] = to;
                    if commit {
                        state.busy[a] = Some(Busy::Walk {
                            from: room,
                            left: steps + 1,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    state.see_bodies();
    if events.end.is_none() && reported.is_some() {
        state.announce_deaths();
        state.rooms_at_report.clone_from(&state.room);
        state.bodies.fill(None);
        state.said.clear();
        // A meeting cancels the work under way: a task begun is lost.
        state.busy.fill(None);
        let living: Vec<AgentId> = state.living().collect();
        state.speakers = speaking_order(&living, state.config.messages, state.config.talk, rng);
        state.stage = if state.speakers.is_empty() {
            Stage::Vote
        } else {
            Stage::Discussion
        };
    }
}

impl State {
    /// One step of the work under way (the `commit` pace), before this step's acts: a task is
    /// done, and paid on the act that began it, at its `task_steps`-th step; a walker arrives
    /// then too; one step later the player acts again.
    fn work(&mut self, events: &mut Events, done: &mut Done) {
        let steps = self.config.task_steps.get();
        for a in 0..self.alive.len() {
            let Some(busy) = self.busy[a].filter(|_| self.alive[a]) else {
                continue;
            };
            let left = busy.left() - 1;
            if let (Busy::Task { task, started, .. }, 1) = (busy, left) {
                self.tasks[a][task].done = steps;
                events.credits.push(Credit::Task {
                    player: AgentId(a as u32),
                    act: started,
                });
                check_end(self, started, events, done);
            }
            self.busy[a] = (left > 0).then_some(match busy {
                Busy::Task { task, started, .. } => Busy::Task {
                    task,
                    started,
                    left,
                },
                Busy::Walk { from, .. } => Busy::Walk { from, left },
            });
        }
    }

    /// After a meeting, with `regroup`: everyone living back in the start room, the kill
    /// cooldown restarted (`StringAmogus.process_gameplay_intro`).
    fn regroup(&mut self) {
        let start = self.config.start_room(self.grid);
        for a in 0..self.alive.len() {
            if self.alive[a] {
                self.room[a] = start;
                self.cooldown[a] = self.config.kill_cooldown;
            }
        }
    }

    /// A crew win by ejection pays every crewmate, dead or alive, +1 `task` per task it left
    /// unfinished, on the ejection (`StringAmogus.check_win_conditions`).
    fn pay_unfinished_tasks(&self, ejection: UtteranceId, events: &mut Events) {
        let steps = self.config.task_steps.get();
        for (a, tasks) in self.tasks.iter().enumerate() {
            let left = tasks.iter().filter(|t| t.done < steps).count();
            if !self.imposter[a] && left > 0 {
                events.credits.push(Credit::TasksLeft {
                    player: AgentId(a as u32),
                    act: ejection,
                    left,
                });
            }
        }
    }

    /// Moves the original's clock on past the step just resolved, which began in `stage`: a
    /// step of play takes 1; a report waits for the next multiple of `meeting_every`, where the
    /// meeting's announcement and first survey take 1 and each message 2 (a prompt and the
    /// message); after the last message a survey, the vote's prompt and its result take 3, the
    /// return to play and its prompts 3 more (`StringAmogus.process_state`).
    fn advance_world_time(&mut self, stage: Stage) {
        let t = self.world_time;
        self.world_time = match (stage, self.stage) {
            (Stage::Play, Stage::Play) => t + 1,
            (Stage::Play, meeting) => {
                let every = self.config.meeting_every.get();
                let start = (t / every + 1) * every;
                start + if meeting == Stage::Discussion { 2 } else { 3 }
            }
            (Stage::Discussion, Stage::Discussion) => t + 2,
            (_, Stage::Vote) => t + 3,
            (Stage::Vote, _) => t + 3,
            (Stage::Discussion, Stage::Play) => unreachable!("a vote follows a discussion"),
        };
    }
}

/// Reward components: each credit on its dimension, on the act credited; the end, on the act that
/// decided it.
pub(super) fn reward(mut envs: Query<(&State, &Events, &mut RewardLedger), Stepping>) {
    for (state, events, ledger) in &mut envs {
        let mut ledger = ledger.into_inner().writer();
        for credit in &events.credits {
            let (player, act, dimension, value) = credit.entry();
            ledger.add(player, act, dimension, value);
        }
        if let Some((Outcome { imposters_won, .. }, u)) = events.end {
            let lose = state.config.lose.get();
            for (a, &imposter) in state.imposter.iter().enumerate() {
                let value = if imposter == imposters_won { 1.0 } else { lose };
                // A loss worth nothing is no entry, as in the original.
                if value != 0.0 {
                    ledger.add(AgentId(a as u32), u, WIN, value);
                }
            }
        }
    }
}

/// Metrics at the end of a game: who won, and whether by tasks.
pub(super) fn record(mut envs: Query<(&Events, &mut Metrics), Stepping>) {
    for (events, metrics) in &mut envs {
        if let Some((
            Outcome {
                imposters_won,
                by_tasks,
            },
            _,
        )) = events.end
        {
            let metrics = metrics.into_inner();
            metrics.record(IMPOSTER_WIN, f64::from(u8::from(imposters_won)));
            metrics.record(TASK_WIN, f64::from(u8::from(by_tasks)));
            metrics.record(CREW_WIN, f64::from(u8::from(!imposters_won)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Square;

    /// Row `a` is `a`'s view of every player, a column every row's value for one player, and
    /// neither reaches into another row.
    #[test]
    fn a_square_is_rows_of_players() {
        let mut seen = Square::new(3, 0u8);
        seen[1][2] = 7;
        seen.column_mut(0).for_each(|x| *x = 1);
        assert_eq!(
            (&seen[0], &seen[1], &seen[2]),
            (&[1, 0, 0][..], &[1, 0, 7][..], &[1, 0, 0][..])
        );
        seen.fill(4);
        assert!((0..3).all(|a| seen[a] == [4, 4, 4]));
    }
}
