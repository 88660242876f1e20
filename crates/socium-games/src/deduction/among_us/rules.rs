//! The rules: the game's state ([`State`]), the deal at a reset, whose turn it is and what each
//! player may do and sees, the resolution of a step (moves, tasks, kills, reports, messages,
//! votes and ejections), the end of the game, and the reward entries and metrics it records.

use super::belief::{Pending, settle};
use super::talk::{Message, Said};
use super::{
    AmongUsConfig, CREW_WIN, IMPOSTER_WIN, INFORMATION, KILL, REPORT, TASK, TASK_WIN, VOTE, WIN,
    acts, obs,
};
use crate::deduction::speaking_order;
use bevy_ecs::prelude::*;
use rand::{Rng, seq::SliceRandom};
use socium_core::{
    Act, ActionMasks, Actions, AgentId, Agents, Audience, Clock, Controller, DimId, Done, Metrics,
    Observations, Resetting, RewardLedger, SimRng, Stepping, Texts, Turn, UtteranceId, Utterances,
};

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

/// The game's state, per env.
#[derive(Component, Debug)]
pub(super) struct State {
    /// The scenario's settings.
    pub(super) config: AmongUsConfig,
    /// Who is an imposter.
    pub(super) imposter: Vec<bool>,
    /// Who is alive.
    pub(super) alive: Vec<bool>,
    /// Each player's room.
    pub(super) room: Vec<usize>,
    /// Each crewmate's tasks, in the order dealt (none for an imposter).
    pub(super) tasks: Vec<Vec<Task>>,
    /// The room of each unreported body.
    pub(super) bodies: Vec<Option<usize>>,
    /// `witnessed[a][j]`: `a` saw `j` kill.
    pub(super) witnessed: Vec<Vec<bool>>,
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
    pub(super) belief: Vec<Vec<f64>>,
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

impl State {
    /// A game of `n` players, to be dealt by `reset`.
    pub(super) fn new(config: AmongUsConfig, n: usize) -> Self {
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

    /// Task steps left, over every crewmate.
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

/// What a step did, for the reward entries and metrics.
#[derive(Component, Debug, Default)]
pub(super) struct Events {
    /// Reward entries: who, on which utterance, in which dimension, how much.
    pub(super) entries: Vec<(AgentId, UtteranceId, DimId, f64)>,
    /// The end: imposters won, by tasks, and the act that decided it.
    pub(super) end: Option<(bool, bool, UtteranceId)>,
}

/// Deals the roles, rooms, tasks and beliefs of every env being reset, at random.
pub(super) fn reset(agents: Res<Agents>, mut envs: Query<(&mut State, &mut SimRng), Resetting>) {
    for (state, rng) in &mut envs {
        reset_env(state.into_inner(), &agents, rng.into_inner());
    }
}

/// Deals one env: who is scripted or external, roles, rooms, tasks and beliefs.
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
            for a in state.living().map(AgentId::index) {
                let kill_ready = state.imposter[a] && state.cooldown[a] == 0;
                allow(a, &|act| match act {
                    acts::WAIT => true,
                    1..=4 => state.config.neighbour(state.room[a], act - 1).is_some(),
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

/// Writes every player's observation row, block by block of [`obs::LAYOUT`].
fn observe(state: &State, obs: &mut Observations) {
    let (n, rooms) = (state.alive.len(), state.config.rooms());
    let steps = state.config.task_steps.get();
    let total: u32 = state.tasks.iter().map(|t| t.len() as u32 * steps).sum();
    let done = 1.0 - state.task_steps_left() as f32 / total.max(1) as f32;
    for a in 0..n {
        let row = obs.0.row_mut(AgentId(a as u32));
        row.fill(0.0);
        row[obs::IMPOSTER] = f32::from(u8::from(state.imposter[a]));
        let stage = STAGES.iter().position(|&s| s == state.stage);
        row[obs::STAGE + stage.expect("every stage is in STAGES")] = 1.0;
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

/// Ends the game if a side has won, naming the act that decided it.
fn check_end(state: &State, decided_by: UtteranceId, events: &mut Events, done: &mut Done) {
    if events.end.is_none()
        && let Some((imposters_won, by_tasks)) = state.winner()
    {
        events.end = Some((imposters_won, by_tasks, decided_by));
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
        Stage::Discussion => discuss(state, &act_of, texts, clock, utterances, events, done),
        Stage::Vote => vote(state, &acting, &act_of, utterances, events, done),
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
        events.entries.push((id(a), u, INFORMATION, gain));
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
    let before = state.crew_belief_in_imposters(speaker.index());
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
            state.witness(w, a);
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
                if let Some(to) = state.config.neighbour(room, m - 1) {
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
        state.speakers = speaking_order(&living, state.config.messages, rng);
        state.stage = if state.speakers.is_empty() {
            Stage::Vote
        } else {
            Stage::Discussion
        };
    }
}

/// Reward components: shaping entries on the acts that earned them; the end, on the act that
/// decided it.
pub(super) fn reward(mut envs: Query<(&State, &Events, &mut RewardLedger), Stepping>) {
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

/// Metrics at the end of a game: who won, and whether by tasks.
pub(super) fn record(mut envs: Query<(&Events, &mut Metrics), Stepping>) {
    for (events, metrics) in &mut envs {
        if let Some((imposters_won, by_tasks, _)) = events.end {
            let metrics = metrics.into_inner();
            metrics.record(IMPOSTER_WIN, f64::from(u8::from(imposters_won)));
            metrics.record(TASK_WIN, f64::from(u8::from(by_tasks)));
            metrics.record(CREW_WIN, f64::from(u8::from(!imposters_won)));
        }
    }
}
