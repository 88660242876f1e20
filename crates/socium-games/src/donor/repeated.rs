//! Repeated two-player games (direct reciprocity) and Axelrod-style round-robin tournaments.
//!
//! Rules: each match is a repeated 2×2 game with payoffs T (temptation), R (reward), P
//! (punishment), S (sucker), by default Axelrod's T = 5, R = 3, P = 1, S = 0 (Axelrod 1984, "The
//! Evolution of Cooperation"); the donation game with benefit b and cost c is the special case
//! T = b, R = b − c, P = 0, S = −c. A match lasts `turns` turns, or, with `continuation` w, goes
//! on after each turn with probability w (still capped at `turns`). With `noise` ε each executed
//! move is flipped with probability ε (an execution error both players see).
//!
//! Tournament: the agents play a round robin without self-play (Axelrod's 1980 tournaments and
//! the `axelrod` library also pair each strategy with its twin), laid out in episodes by
//! `matches`:
//!
//! - `by_round` (the default): an episode is one round of the round robin — the circle method
//!   pairs every agent with one other, all matches played at once, one turn per step — so n − 1
//!   episodes (n for odd n, one agent resting each round) are a full round robin, and the
//!   tournament is that many episodes times `repetitions`. A seeded reset starts at a round drawn
//!   from the seed; each unseeded reset moves to the next round, so a trainer that seeds every
//!   reset still meets every partner. An agent resting this round (odd n) is terminated from the
//!   reset on.
//! - `at_once`: an episode is the whole round robin — every agent plays every other at the same
//!   time, one turn of each of its n − 1 matches per step (an action is a move per partner, an
//!   observation a block per partner, partners in id order) — and the tournament is
//!   `repetitions` episodes. A deterministic tournament's totals are the same either way (with
//!   noise, random lengths or random players they are equal in distribution); `at_once` plays it
//!   in n − 1 times fewer, busier steps. In an ended match (with `continuation`, matches end at
//!   different steps) the mask allows only 0, and the move is ignored.

use super::{COOPERATION, COOPERATION_METRIC, PAYOFF, PAYOFF_DIMENSION, unit_param};
use bevy_ecs::prelude::*;
use rand::Rng;
use serde::Deserialize;
use socium_core::{
    Act, ActionMasks, Actions, AgentId, AgentSpec, Audience, Clock, Controller, DimensionInfo,
    Done, GameBuilder, MetricInfo, Metrics, Observations, Phase, Prompt, Resetting, RewardLedger,
    Rules, SimRng, Space, Stepping, Strategies, StrategyInfo, Turn, UtteranceId, Utterances,
    bounded::{Count, Finite, Probability},
};
use std::{fmt::Write as _, ops::Range};

/// The payoff matrix, from the row player's side.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Payoffs {
    /// Temptation: defect against a cooperator.
    pub t: Finite,
    /// Reward: mutual cooperation.
    pub r: Finite,
    /// Punishment: mutual defection.
    pub p: Finite,
    /// Sucker: cooperate against a defector.
    pub s: Finite,
}

impl Payoffs {
    /// The row player's payoff.
    #[inline]
    pub fn of(&self, own_cooperates: bool, other_cooperates: bool) -> f64 {
        self.table()[Payoffs::cell(own_cooperates, other_cooperates)]
    }

    /// The four payoffs, at [`Payoffs::cell`]: a lookup for the hot loop, where matching on the
    /// moves compiles to branches.
    fn table(&self) -> [f64; 4] {
        [self.p.get(), self.t.get(), self.s.get(), self.r.get()]
    }

    /// The payoffs in words, for a prompt.
    pub fn in_words(&self) -> String {
        format!(
            "both cooperating score {} each, both defecting {} each, and a defector facing a \
             cooperator scores {} while the cooperator scores {}",
            self.r.get(),
            self.p.get(),
            self.t.get(),
            self.s.get()
        )
    }

    /// Where the row player's payoff for these moves is in [`Payoffs::table`].
    #[inline]
    fn cell(own_cooperates: bool, other_cooperates: bool) -> usize {
        (own_cooperates as usize) << 1 | other_cooperates as usize
    }
}

/// Settings of the repeated game (`[game.repeated]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RepeatedConfig {
    /// The payoff matrix (default Axelrod's 5, 3, 1, 0).
    pub payoffs: Payoffs,
    /// Turns per match (the cap when `continuation` is set).
    pub turns: Count,
    /// Probability that a match goes on after each turn; fixed length when absent.
    pub continuation: Option<Probability>,
    /// Probability that an executed move is flipped.
    pub noise: Probability,
    /// Full round robins in a tournament (sets the default number of episodes).
    pub repetitions: Count,
    /// How the round robin's matches are laid out in episodes.
    pub matches: Matches,
}

/// The most agents `matches = "at_once"` takes: each observes a block per partner, so memory and
/// observations grow as the square of the agents (a thousand agents: 28 MB of observations).
pub const MAX_AT_ONCE: usize = 1000;

/// How a tournament's matches are laid out in episodes (`[game.repeated] matches`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Matches {
    /// An episode is one round of the round robin: every agent plays one match.
    #[default]
    ByRound,
    /// An episode is the whole round robin: every agent plays all its matches at once.
    AtOnce,
}

impl Default for RepeatedConfig {
    fn default() -> Self {
        let f = |v| Finite::new(v).expect("finite");
        RepeatedConfig {
            payoffs: Payoffs {
                t: f(5.0),
                r: f(3.0),
                p: f(1.0),
                s: f(0.0),
            },
            turns: Count::new(200).expect("in range"),
            continuation: None,
            noise: Probability::new(0.0).expect("in range"),
            repetitions: Count::new(1).expect("in range"),
            matches: Matches::ByRound,
        }
    }
}

/// Observation layout: entry indices (moves are 1 for cooperate, 0 for defect).
pub mod obs {
    /// Turns played in the match, as a fraction of `turns`.
    pub const PROGRESS: usize = 0;
    /// 1 once a turn has been played.
    pub const HAS_LAST: usize = 1;
    /// The agent's last move.
    pub const OWN_LAST: usize = 2;
    /// The partner's last move.
    pub const PARTNER_LAST: usize = 3;
    /// 1 once two turns have been played.
    pub const HAS_PREVIOUS: usize = 4;
    /// The partner's move before its last.
    pub const PARTNER_PREVIOUS: usize = 5;
    /// 1 if the partner has ever defected in this match.
    pub const PARTNER_DEFECTED: usize = 6;
    /// Entries.
    pub const DIM: usize = 7;
}

strategies! {
    static STRATEGIES, fn strategy -> Strategy = [
        StrategyInfo {
            name: "allc",
            summary: "always cooperates",
            params: &[],
        } => |_| Strategy::AllC,
        StrategyInfo {
            name: "alld",
            summary: "always defects",
            params: &[],
        } => |_| Strategy::AllD,
        StrategyInfo {
            name: "tft",
            summary: "tit for tat: cooperates, then copies the partner",
            params: &[],
        } => |_| Strategy::Tft,
        StrategyInfo {
            name: "tf2t",
            summary: "tit for two tats: defects only after two defections in a row",
            params: &[],
        } => |_| Strategy::Tf2t,
        StrategyInfo {
            name: "stft",
            summary: "suspicious tit for tat: defects first, then copies",
            params: &[],
        } => |_| Strategy::Stft,
        StrategyInfo {
            name: "grudger",
            summary: "cooperates until the partner defects once, then defects",
            params: &[],
        } => |_| Strategy::Grudger,
        StrategyInfo {
            name: "wsls",
            summary: "win-stay lose-shift (Pavlov): cooperates iff both moved alike last turn",
            params: &[],
        } => |_| Strategy::Wsls,
        StrategyInfo {
            name: "gtft",
            summary: "generous tit for tat: as tft, but forgives a defection with probability generosity",
            params: &[unit_param(
                "generosity",
                "probability of cooperating after a defection",
                1.0 / 3.0,
            )],
        } => |c| Strategy::Gtft(c.param("generosity")),
        StrategyInfo {
            name: "alternator",
            summary: "cooperates, then alternates",
            params: &[],
        } => |_| Strategy::Alternator,
        StrategyInfo {
            name: "random",
            summary: "cooperates with probability p",
            params: &[unit_param("p", "probability of cooperating", 0.5)],
        } => |c| Strategy::Random(c.param("p")),
    ]
}

static DIMENSIONS: [DimensionInfo; 1] = [PAYOFF_DIMENSION];
static METRICS: [MetricInfo; 1] = [COOPERATION_METRIC];

/// A scripted player of the repeated game, deciding from its observation row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// Always cooperates.
    AllC,
    /// Always defects.
    AllD,
    /// Tit for tat.
    Tft,
    /// Tit for two tats.
    Tf2t,
    /// Suspicious tit for tat.
    Stft,
    /// Grim trigger.
    Grudger,
    /// Win-stay lose-shift.
    Wsls,
    /// Generous tit for tat with the given forgiveness probability.
    Gtft(f64),
    /// Cooperate, defect, cooperate...
    Alternator,
    /// Cooperates with probability `p`.
    Random(f64),
}

impl Strategy {
    /// Whether its moves are a function of what it has seen (no coin is ever in doubt).
    fn is_deterministic(self) -> bool {
        match self {
            Strategy::Gtft(p) | Strategy::Random(p) => p == 0.0 || p == 1.0,
            _ => true,
        }
    }

    /// Whether to cooperate, from an observation row.
    pub fn cooperates(&self, obs: &[f32], rng: &mut impl Rng) -> bool {
        let first = obs[obs::HAS_LAST] == 0.0;
        let own_last = obs[obs::OWN_LAST] == 1.0;
        let partner_last = obs[obs::PARTNER_LAST] == 1.0;
        match *self {
            Strategy::AllC => true,
            Strategy::AllD => false,
            Strategy::Tft => first || partner_last,
            Strategy::Stft => !first && partner_last,
            Strategy::Tf2t => {
                let twice = obs[obs::HAS_PREVIOUS] == 1.0 && obs[obs::PARTNER_PREVIOUS] == 0.0;
                first || partner_last || !twice
            }
            Strategy::Grudger => obs[obs::PARTNER_DEFECTED] == 0.0,
            Strategy::Wsls => first || own_last == partner_last,
            Strategy::Gtft(g) => first || partner_last || rng.random_bool(g),
            Strategy::Alternator => first || !own_last,
            Strategy::Random(p) => rng.random_bool(p),
        }
    }

    /// Moves in every match, each from its block of `obs` (one agent's observation row or several
    /// agents' in a row), into `moves`.
    fn play(&self, obs: &[f32], rng: &mut impl Rng, moves: &mut [f32]) {
        // One loop per strategy, each calling `cooperates` with a constant strategy, so that the
        // match on the strategy is settled once a row rather than once a block.
        macro_rules! each_block {
            ($strategy:expr) => {
                for (m, block) in moves.iter_mut().zip(obs.chunks_exact(obs::DIM)) {
                    *m = $strategy.cooperates(block, rng) as u8 as f32;
                }
            };
        }
        match *self {
            Strategy::AllC => each_block!(Strategy::AllC),
            Strategy::AllD => each_block!(Strategy::AllD),
            Strategy::Tft => each_block!(Strategy::Tft),
            Strategy::Tf2t => each_block!(Strategy::Tf2t),
            Strategy::Stft => each_block!(Strategy::Stft),
            Strategy::Grudger => each_block!(Strategy::Grudger),
            Strategy::Wsls => each_block!(Strategy::Wsls),
            Strategy::Alternator => each_block!(Strategy::Alternator),
            s @ (Strategy::Gtft(_) | Strategy::Random(_)) => each_block!(s),
        }
    }
}

/// A match's observation block (see [`obs`]) with no turn played: 0 in every entry.
const UNPLAYED: [f32; obs::DIM] = [0.0; obs::DIM];

#[derive(Component, Clone, Debug)]
struct State {
    config: RepeatedConfig,
    /// Round of the round robin played at episode 0, drawn at every seeded reset (`by_round`).
    first_round: usize,
    /// Matches each agent plays at once (see [`RepeatedConfig::slots`]).
    slots: usize,
    /// Agent `a`'s partner in its match `k`, at `a * slots + k`. Its observation block of the
    /// match, at the same index of the env's observations taken as blocks, is the game's record
    /// of the match: `reset` clears it and `resolve` brings it up to date with every turn, so
    /// that nothing is left to observe after a step.
    partner: Vec<Option<AgentId>>,
    /// Every match once, from its lower-numbered player's side, in that player's id and slot
    /// order: what `resolve` walks, made from `partner` wherever it changes.
    matches: Vec<Match>,
    /// How many of its matches each agent is still playing: its episode ends when none is left.
    playing: Vec<u32>,
}

/// A match between `a` and `b > a`: `a`'s slot `i` and `b`'s slot `j`, each the index of the
/// player's observation block of the match (`State::partner`) and of its move in the actions (an
/// action holds one move per slot); the turns played, and whether the match is being played (not
/// once it has ended).
#[derive(Clone, Copy, Debug)]
struct Match {
    a: AgentId,
    b: AgentId,
    i: u32,
    j: u32,
    turns: u32,
    open: bool,
}

impl State {
    /// Which of agent `b`'s matches is against `a`.
    fn slot_against(&self, b: usize, a: usize) -> usize {
        match self.config.matches {
            Matches::ByRound => 0,
            Matches::AtOnce if a < b => a,
            Matches::AtOnce => a - 1,
        }
    }

    /// Lists the matches `partner` sets up.
    fn list_matches(&mut self) {
        self.matches.clear();
        for (i, p) in self.partner.iter().enumerate() {
            let a = i / self.slots;
            if let Some(b) = *p
                && b.index() > a
            {
                let j = b.index() * self.slots + self.slot_against(b.index(), a);
                self.matches.push(Match {
                    a: AgentId(a as u32),
                    b,
                    i: i as u32,
                    j: j as u32,
                    turns: 0,
                    open: true,
                });
            }
        }
    }
}

/// A player's move in a turn of a match, and its partner's.
#[derive(Clone, Copy, Debug)]
struct Move {
    player: AgentId,
    cooperated: bool,
    partner_cooperated: bool,
}

/// The step's moves, a match's two in a row (its lower-numbered player's first), and the id of
/// the first's utterance: the `k`-th move's is `first_utterance + k`.
#[derive(Component, Debug)]
struct Events {
    moves: Vec<Move>,
    first_utterance: UtteranceId,
}

/// Rounds of a round robin among `n` players (circle method).
pub fn round_robin_rounds(n: usize) -> usize {
    if n.is_multiple_of(2) { n - 1 } else { n }
}

/// The partner of every player in round `round` of a round robin among `n` players (circle
/// method: player m − 1 fixed, the others rotating; with odd `n` a phantom player m − 1 = n
/// stands in, and its partner rests).
pub fn round_robin_partners(n: usize, round: usize) -> Vec<Option<AgentId>> {
    let m = if n.is_multiple_of(2) { n } else { n + 1 };
    let rounds = m - 1;
    let r = round % rounds;
    let mut partner = vec![None; n];
    let mut pair = |a: usize, b: usize| {
        if a < n && b < n {
            partner[a] = Some(AgentId(b as u32));
            partner[b] = Some(AgentId(a as u32));
        }
    };
    pair(m - 1, r);
    for i in 1..m / 2 {
        pair((r + i) % rounds, (r + rounds - i) % rounds);
    }
    partner
}

impl RepeatedConfig {
    /// Episodes of one full round robin among `agents` agents.
    pub fn round_robin_episodes(&self, agents: usize) -> u64 {
        match self.matches {
            Matches::ByRound => round_robin_rounds(agents) as u64,
            Matches::AtOnce => 1,
        }
    }

    /// Matches each of `agents` agents plays in an episode: one `by_round`, all the others
    /// `at_once`. An observation has an [`obs::DIM`] block per match, an action a move per match.
    pub fn slots(&self, agents: usize) -> usize {
        match self.matches {
            Matches::ByRound => 1,
            Matches::AtOnce => agents.saturating_sub(1),
        }
    }
}

impl Rules for RepeatedConfig {
    fn observation_space(&self, agents: usize) -> Space {
        Space::uniform_box(self.slots(agents) * obs::DIM, 0.0, 1.0)
    }

    fn action_space(&self, agents: usize) -> Space {
        match self.matches {
            Matches::ByRound => Space::Discrete { n: 2 },
            Matches::AtOnce => Space::MultiDiscrete {
                nvec: vec![2; self.slots(agents)],
            },
        }
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

    fn prompt(&self, _agents: usize, agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        prompt(self, agent, obs, mask)
    }

    fn default_episodes(&self, agents: usize) -> u64 {
        self.round_robin_episodes(agents) * self.repetitions.get() as u64
    }

    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        if agents.len() < 2 {
            return Err(format!("needs at least 2 agents, found {}", agents.len()));
        }
        if self.matches == Matches::AtOnce && agents.len() > MAX_AT_ONCE {
            return Err(format!(
                "`matches = \"at_once\"` plays every pair at every step: at most {MAX_AT_ONCE} \
                 agents, found {} (use \"by_round\")",
                agents.len()
            ));
        }
        Ok(())
    }

    /// Whole round robins of a periodic tournament give the same payoffs whatever round the seed
    /// starts them at.
    fn seed_independent(&self, agents: &[AgentSpec], episodes: usize) -> bool {
        self.period(agents)
            .is_some_and(|p| (episodes as u64).is_multiple_of(p))
    }

    /// Without noise or a random match length, deterministic strategies play the same moves in
    /// every match, and episode `e` plays round `first + e` of the round robin (or all of it):
    /// every round robin's worth of episodes repeats the one before.
    fn period(&self, agents: &[AgentSpec]) -> Option<u64> {
        let deterministic = |a: &AgentSpec| match &a.controller {
            Controller::Scripted(c) => strategy(c).is_deterministic(),
            _ => false,
        };
        (self.noise.get() == 0.0 && self.continuation.is_none() && agents.iter().all(deterministic))
            .then(|| self.round_robin_episodes(agents.len()))
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        let slots = self.slots(n);
        // At once, match k of agent a is against the k-th other agent in id order, always.
        let partner = match self.matches {
            Matches::ByRound => vec![None; n],
            Matches::AtOnce => (0..n)
                .flat_map(|a| (0..n).filter(move |&b| b != a))
                .map(|b| Some(AgentId(b as u32)))
                .collect(),
        };
        game.insert_strategies(strategy);
        debug_assert_eq!(self.action_space(n).flat_dim(), slots, "a move per slot");
        let mut state = State {
            config: self.clone(),
            first_round: 0,
            slots,
            partner,
            matches: Vec::new(),
            playing: vec![0; n],
        };
        state.list_matches();
        game.env_component(|| state.clone())
            .env_component(|| Events {
                moves: Vec::new(),
                first_utterance: UtteranceId(0),
            })
            .add_systems(Phase::Reset, reset)
            .add_systems(Phase::Decide, decide)
            .add_systems(Phase::Resolve, resolve)
            .add_systems(Phase::Reward, reward)
            .add_systems(Phase::Record, record);
        // The observations are up to date after `resolve`; only the masks of matches that end
        // at random change.
        if self.matches == Matches::AtOnce && self.continuation.is_some() {
            game.add_systems(Phase::Observe, forbid_ended_matches);
        }
    }
}

/// Pairs the agents (`by_round`: this episode's round of the round robin, the seed picking the
/// first round and later episodes taking the next ones; `at_once`: every pair), opens every
/// match with its observation blocks unplayed, and ends the episode at once for an agent without
/// one (resting this round).
#[allow(clippy::type_complexity)]
fn reset(
    mut envs: Query<
        (
            &Clock,
            &mut SimRng,
            &mut State,
            &mut Done,
            &mut Observations,
        ),
        Resetting,
    >,
) {
    for (clock, rng, state, done, obs) in &mut envs {
        let (state, done) = (state.into_inner(), done.into_inner());
        let n = state.playing.len();
        if state.config.matches == Matches::ByRound {
            if clock.episode() == 0 {
                state.first_round = rng
                    .into_inner()
                    .chance
                    .random_range(0..round_robin_rounds(n));
            }
            let round = state.first_round + clock.episode() as usize;
            state.partner = round_robin_partners(n, round);
            state.list_matches();
        }
        state.playing.fill(0);
        for m in &mut state.matches {
            (m.turns, m.open) = (0, true);
            state.playing[m.a.index()] += 1;
            state.playing[m.b.index()] += 1;
        }
        let (blocks, _) = obs.into_inner().0.as_mut_slice().as_chunks_mut();
        blocks.fill(UNPLAYED);
        for (a, _) in state.playing.iter().enumerate().filter(|(_, p)| **p == 0) {
            done.terminate(AgentId(a as u32));
        }
    }
}

/// In a match that has ended while its players play on (`at_once`, random lengths), only the
/// move 0 is allowed, and ignored.
fn forbid_ended_matches(mut envs: Query<(&State, &mut ActionMasks)>) {
    for (state, masks) in &mut envs {
        // A slot's two choices are at 2 × slot (an action is a move per slot).
        let masks = masks.into_inner().0.as_mut_slice();
        for m in &state.matches {
            masks[2 * m.i as usize + 1] = m.open as u8;
            masks[2 * m.j as usize + 1] = m.open as u8;
        }
    }
}

/// A scripted agent moves in each of its matches from that match's observation block: a run of
/// agents with one strategy at a time, and within it a stretch of acting neighbours at a time,
/// whose blocks follow one another in the observations as their moves do in the actions.
fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<(&State, &Turn, &Observations, &mut SimRng, &mut Actions), Stepping>,
) {
    for (state, turn, obs, rng, actions) in &mut envs {
        let (obs, moves) = (obs.0.as_slice(), actions.into_inner().0.as_mut_slice());
        let rng = &mut rng.into_inner().decide;
        decide_runs(
            strategies.runs(),
            state.slots,
            turn.acting(),
            obs,
            rng,
            moves,
        );
    }
}

/// `decide` in one env: the runs `runs` of agents with `slots` matches each.
fn decide_runs(
    runs: &[(Range<usize>, Strategy)],
    slots: usize,
    acting: &[bool],
    obs: &[f32],
    rng: &mut impl Rng,
    moves: &mut [f32],
) {
    for (agents, strategy) in runs {
        for (stretch, &act) in socium_core::runs(&acting[agents.clone()]) {
            if act {
                let rows = agents.start + stretch.start..agents.start + stretch.end;
                let blocks = rows.start * slots..rows.end * slots;
                let seen = &obs[blocks.start * obs::DIM..blocks.end * obs::DIM];
                strategy.play(seen, rng, &mut moves[blocks]);
            }
        }
    }
}

/// Plays one turn of every open match whose players both act.
#[allow(clippy::type_complexity)]
fn resolve(
    mut envs: Query<
        (
            &Turn,
            &Actions,
            &mut Observations,
            &mut State,
            &mut SimRng,
            &mut Utterances,
            &mut Events,
            &mut Done,
        ),
        Stepping,
    >,
) {
    for (turn, actions, obs, state, rng, utterances, events, done) in &mut envs {
        // Both players of an open match act: each is still playing (this match), so neither is
        // done, and every agent not done acts (simultaneous turns).
        debug_assert!(
            (state.matches.iter().filter(|m| m.open))
                .all(|m| turn.is_acting(m.a) && turn.is_acting(m.b))
        );
        resolve_env(
            actions,
            obs.into_inner(),
            state.into_inner(),
            rng.into_inner(),
            utterances.into_inner(),
            events.into_inner(),
            done.into_inner(),
        );
    }
}

// Never inlined: inside the system's runner the match loop kept its values on the stack (a
// played Moran generation 716 k instructions against 695 k, benches/instructions.py).
#[inline(never)]
fn resolve_env(
    actions: &Actions,
    obs: &mut Observations,
    state: &mut State,
    rng: &mut SimRng,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    events.moves.clear();
    let State {
        config,
        matches,
        playing,
        ..
    } = state;
    let (seen, _) = obs.0.as_mut_slice().as_chunks_mut::<{ obs::DIM }>();
    let (noise, turns) = (config.noise.get(), config.turns.get());
    let length = turns as f32;
    let chosen = actions.0.as_slice();
    for m in matches.iter_mut().filter(|m| m.open) {
        let (a, b) = (m.a, m.b);
        let (i, j) = (m.i as usize, m.j as usize);
        let mut moves = [chosen[i] == 1.0, chosen[j] == 1.0];
        if noise > 0.0 {
            for m in &mut moves {
                if rng.noise.random_bool(noise) {
                    *m = !*m;
                }
            }
        }
        let [x, y] = moves;
        events.moves.extend_from_slice(&[
            Move {
                player: a,
                cooperated: x,
                partner_cooperated: y,
            },
            Move {
                player: b,
                cooperated: y,
                partner_cooperated: x,
            },
        ]);
        m.turns += 1;
        let progress = m.turns as f32 / length;
        remember(&mut seen[i], progress, x, y);
        remember(&mut seen[j], progress, y, x);
        let ends = m.turns >= turns
            || config
                .continuation
                .is_some_and(|w| !rng.chance.random_bool(w.get()));
        if ends {
            end(m, playing, done);
        }
    }
    // The moves are voiced apart, in the order they were played (a match's two in a row), so that
    // the loop above carries none of the transcript's work.
    let moves = &events.moves;
    events.first_utterance = utterances.say_run(moves.len(), |k| {
        let (e, other) = (moves[k], moves[k ^ 1].player);
        let (me, mine) = (e.player, e.cooperated);
        let payoff = config.payoffs.of(mine, e.partner_cooperated);
        let act = Act {
            kind: if mine { "cooperate" } else { "defect" },
            target: Some(other),
            value: mine as u8 as f64,
        };
        let text = move || {
            let verb = if mine {
                "cooperates with"
            } else {
                "defects against"
            };
            format!("{me} {verb} {other} and scores {payoff}")
        };
        (me, Audience::Agent(other), act, text)
    });
}

/// The rules and a player's matches in words, from its observation blocks (one a match: its
/// partner's in `by_round`, each other player's in id order in `at_once`) and its mask.
fn prompt(config: &RepeatedConfig, agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
    let turns = config.turns.get();
    let mut rules = String::from("You play the repeated prisoner's dilemma");
    rules.push_str(match config.matches {
        Matches::ByRound => ": a match against one partner, a turn at a time.",
        Matches::AtOnce => {
            " against every other player at once: a match with each, a turn of every match at a \
             time."
        }
    });
    write!(
        rules,
        " Each turn both players of a match choose at once to cooperate or defect: {}.",
        config.payoffs.in_words()
    )
    .expect("writing to a String");
    match config.continuation {
        None => write!(rules, " A match lasts {turns} turns."),
        Some(w) => write!(
            rules,
            " After each turn a match goes on with probability {}, for at most {turns} turns.",
            w.get()
        ),
    }
    .expect("writing to a String");
    if config.noise.get() > 0.0 {
        write!(
            rules,
            " Each move is flipped with probability {}: a mistake both players see.",
            config.noise.get()
        )
        .expect("writing to a String");
    }
    rules.push_str(" Aim for the highest total score.");
    if config.matches == Matches::AtOnce {
        rules.push_str(
            " Answer with one move per match, in the order the matches are listed: 1 to \
             cooperate, 0 to defect (a match that is over takes 0).",
        );
    }
    let moved = |cooperated: bool| if cooperated { "cooperated" } else { "defected" };
    let mut situation = String::new();
    for (k, block) in obs.chunks_exact(obs::DIM).enumerate() {
        let flag = |at: usize| block[at] == 1.0;
        let partner = match config.matches {
            Matches::ByRound => "Your partner".to_owned(),
            // The other players in id order: this player's own id is skipped.
            Matches::AtOnce => format!("Player {}", k + usize::from(k >= agent.index())),
        };
        let open = mask.get(2 * k + 1).is_some_and(|&m| m != 0);
        if !situation.is_empty() {
            situation.push('\n');
        }
        if !open {
            write!(situation, "{partner}: the match is over.")
        } else if !flag(obs::HAS_LAST) {
            write!(
                situation,
                "{partner}: the match begins; no turn is played yet."
            )
        } else {
            let played = (block[obs::PROGRESS] * turns as f32).round() as u32;
            write!(
                situation,
                "{partner}: {played} turn{} played. Last turn you {} and they {}",
                if played == 1 { "" } else { "s" },
                moved(flag(obs::OWN_LAST)),
                moved(flag(obs::PARTNER_LAST))
            )
            .expect("writing to a String");
            if flag(obs::HAS_PREVIOUS) {
                write!(
                    situation,
                    "; the turn before, they {}",
                    moved(flag(obs::PARTNER_PREVIOUS))
                )
                .expect("writing to a String");
            }
            let ever = if flag(obs::PARTNER_DEFECTED) {
                "have"
            } else {
                "have never"
            };
            write!(situation, ". They {ever} defected in this match.")
        }
        .expect("writing to a String");
    }
    let acts = match config.matches {
        Matches::ByRound => Prompt::legal_acts(2, mask, |i| {
            if i == 1 { "cooperate" } else { "defect" }.to_owned()
        }),
        // A move per match: the answer's `choices`, which the rules explain.
        Matches::AtOnce => Vec::new(),
    };
    Prompt {
        rules,
        situation,
        acts,
        amount: None,
    }
}

/// Brings a player's observation block of a match up to date with a turn in which it cooperated
/// or not (`mine`) and so did its partner (`theirs`).
#[inline(always)]
fn remember(block: &mut [f32; obs::DIM], progress: f32, mine: bool, theirs: bool) {
    let bit = |b: bool| b as u8 as f32;
    block[obs::PROGRESS] = progress;
    block[obs::HAS_PREVIOUS] = block[obs::HAS_LAST];
    block[obs::HAS_LAST] = 1.0;
    block[obs::OWN_LAST] = bit(mine);
    block[obs::PARTNER_PREVIOUS] = block[obs::PARTNER_LAST];
    block[obs::PARTNER_LAST] = bit(theirs);
    if !theirs {
        block[obs::PARTNER_DEFECTED] = 1.0;
    }
}

/// Closes match `m`, and ends the episode for a player with no other match still open.
// Cold: a match ends once in all its turns.
#[cold]
fn end(m: &mut Match, playing: &mut [u32], done: &mut Done) {
    m.open = false;
    for p in [m.a, m.b] {
        playing[p.index()] -= 1;
        if playing[p.index()] == 0 {
            done.terminate(p);
        }
    }
}

/// Reward component: each player's payoff of the turn, attributed to its own move.
fn reward(mut envs: Query<(&State, &Events, &mut RewardLedger), Stepping>) {
    for (state, events, ledger) in &mut envs {
        let mut ledger = ledger.into_inner().writer();
        let payoffs = state.config.payoffs.table();
        ledger.add_all(events.moves.iter().enumerate().map(|(k, e)| {
            let utterance = UtteranceId(events.first_utterance.0 + k as u64);
            let payoff = payoffs[Payoffs::cell(e.cooperated, e.partner_cooperated)];
            (e.player, utterance, PAYOFF, payoff)
        }));
    }
}

fn record(mut envs: Query<(&Events, &mut Metrics), Stepping>) {
    for (events, metrics) in &mut envs {
        let cooperated = events.moves.iter().filter(|e| e.cooperated).count();
        let count = events.moves.len() as f64;
        metrics
            .into_inner()
            .record_many(COOPERATION, cooperated as f64, count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A block after `played` of `turns` turns: this player's and its partner's last moves, the
    /// partner's move before, whether it ever defected.
    fn block(played: u32, turns: u32, last: (bool, bool), previous: Option<bool>) -> Vec<f32> {
        let mut b = [0.0; obs::DIM];
        let mut progress = 0.0;
        for turn in 1..=played {
            progress = turn as f32 / turns as f32;
            let theirs = match (turn == played, previous) {
                (true, _) => last.1,
                (false, Some(p)) if turn + 1 == played => p,
                _ => true,
            };
            remember(&mut b, progress, last.0, theirs);
        }
        b[obs::PROGRESS] = progress;
        b.to_vec()
    }

    #[test]
    fn a_prompt_tells_each_match_in_words() {
        let config: RepeatedConfig = toml::from_str("turns = 10\nnoise = 0.05").unwrap();
        let row = block(3, 10, (true, false), Some(true));
        let p = prompt(&config, AgentId(0), &row, &[1, 1]);
        assert!(p.rules.contains("both cooperating score 3 each, both defecting 1 each, and a \
                                  defector facing a cooperator scores 5 while the cooperator scores 0"), "{}", p.rules);
        assert!(
            p.rules
                .contains("A match lasts 10 turns. Each move is flipped with probability 0.05")
        );
        assert_eq!(
            p.situation,
            "Your partner: 3 turns played. Last turn you cooperated and they defected; the turn \
             before, they cooperated. They have defected in this match."
        );
        assert_eq!(
            p.acts,
            [(0, "defect".to_owned()), (1, "cooperate".to_owned())]
        );
        let fresh = prompt(&config, AgentId(0), &[0.0; obs::DIM], &[1, 1]);
        assert_eq!(
            fresh.situation,
            "Your partner: the match begins; no turn is played yet."
        );
        // All at once, for player 1 of three: its matches with players 0 and 2, the second over.
        let config: RepeatedConfig = toml::from_str("matches = \"at_once\"").unwrap();
        let mut rows = block(1, 200, (false, true), None);
        rows.extend(block(1, 200, (true, true), None));
        let p = prompt(&config, AgentId(1), &rows, &[1, 1, 1, 0]);
        assert_eq!(
            p.situation,
            "Player 0: 1 turn played. Last turn you defected and they cooperated. They have \
             never defected in this match.\nPlayer 2: the match is over."
        );
        assert!(p.acts.is_empty() && p.rules.contains("one move per match"));
    }

    #[test]
    fn a_row_is_played_as_each_block_alone() {
        let all = [
            Strategy::AllC,
            Strategy::AllD,
            Strategy::Tft,
            Strategy::Tf2t,
            Strategy::Stft,
            Strategy::Grudger,
            Strategy::Wsls,
            Strategy::Gtft(0.3),
            Strategy::Alternator,
            Strategy::Random(0.6),
        ];
        // Every combination of the six binary entries, after a first turn and before it.
        let mut obs = Vec::new();
        for bits in 0..64u32 {
            let bit = |k: u32| (bits >> k & 1) as f32;
            let mut block = [0.0; obs::DIM];
            block[obs::PROGRESS] = 0.5;
            for (k, entry) in [
                obs::HAS_LAST,
                obs::OWN_LAST,
                obs::PARTNER_LAST,
                obs::HAS_PREVIOUS,
                obs::PARTNER_PREVIOUS,
                obs::PARTNER_DEFECTED,
            ]
            .into_iter()
            .enumerate()
            {
                block[entry] = bit(k as u32);
            }
            obs.extend(block);
        }
        for strategy in all {
            let mut moves = vec![0.5; 64];
            strategy.play(&obs, &mut ChaCha8Rng::seed_from_u64(1), &mut moves);
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let alone: Vec<f32> = obs
                .chunks_exact(obs::DIM)
                .map(|block| strategy.cooperates(block, &mut rng) as u8 as f32)
                .collect();
            assert_eq!(moves, alone, "{strategy:?}");
        }
    }

    #[test]
    fn a_stretch_of_agents_decides_as_each_agent_alone() {
        // Three runs (the middle one random) of agents with two matches each, some idle.
        let runs = [
            (0..3, Strategy::Tft),
            (3..7, Strategy::Gtft(0.5)),
            (8..10, Strategy::Wsls),
        ];
        let (n, slots) = (10, 2);
        let acting: Vec<bool> = (0..n).map(|a| a % 4 != 1).collect();
        let obs: Vec<f32> = (0..n * slots * obs::DIM)
            .map(|k| (k * 7 % 5 < 2) as u8 as f32)
            .collect();
        let mut moves = vec![0.5; n * slots];
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        decide_runs(&runs, slots, &acting, &obs, &mut rng, &mut moves);
        let mut alone = vec![0.5; n * slots];
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for (agents, strategy) in &runs {
            for a in agents.clone().filter(|&a| acting[a]) {
                let row = &obs[a * slots * obs::DIM..(a + 1) * slots * obs::DIM];
                strategy.play(row, &mut rng, &mut alone[a * slots..(a + 1) * slots]);
            }
        }
        assert_eq!(moves, alone);
        // The idle agents and the one in no run (7) did not move.
        let still: Vec<usize> = (0..n)
            .filter(|&a| moves[a * slots..(a + 1) * slots] == [0.5; 2])
            .collect();
        assert_eq!(still, [1, 5, 7, 9]);
    }

    #[test]
    fn circle_method_pairs_everyone_once() {
        for n in [2, 3, 4, 7, 8] {
            let mut met = std::collections::BTreeSet::new();
            for round in 0..round_robin_rounds(n) {
                let partners = round_robin_partners(n, round);
                let resting = partners.iter().filter(|p| p.is_none()).count();
                assert_eq!(resting, n % 2, "n = {n}, round {round}");
                for (a, p) in partners.iter().enumerate() {
                    if let Some(b) = p {
                        assert_eq!(partners[b.index()], Some(AgentId(a as u32)));
                        assert!(met.insert((a, b.index())), "pair met twice");
                    }
                }
            }
            assert_eq!(met.len(), n * (n - 1), "n = {n}");
        }
    }

    /// `count` agents of each `(strategy, params)`.
    fn agents(groups: &[(&str, &[(&str, f64)])], count: usize) -> Vec<AgentSpec> {
        let mut out = Vec::new();
        for (name, params) in groups {
            let info = STRATEGIES.iter().find(|s| s.name == *name).unwrap();
            let choice = info.choose(params.iter().copied()).unwrap();
            let spec = AgentSpec {
                controller: Controller::Scripted(choice),
                label: (*name).into(),
                social: Default::default(),
            };
            out.extend(std::iter::repeat_n(spec, count));
        }
        out
    }

    #[test]
    fn only_noiseless_deterministic_round_robins_repeat_and_are_seed_independent() {
        let game = RepeatedConfig::default();
        let tft_alld = agents(&[("tft", &[]), ("alld", &[])], 5);
        // 10 agents: 9 rounds to a round robin.
        assert_eq!(game.period(&tft_alld), Some(9));
        let at_once = RepeatedConfig {
            matches: Matches::AtOnce,
            repetitions: Count::new(3).unwrap(),
            ..RepeatedConfig::default()
        };
        assert_eq!(
            at_once.period(&tft_alld),
            Some(1),
            "an episode is a round robin"
        );
        assert_eq!(at_once.default_episodes(10), 3);
        assert!(at_once.seed_independent(&tft_alld, 1));
        let crowd = agents(&[("tft", &[])], MAX_AT_ONCE + 1);
        assert!(
            at_once
                .check(&crowd)
                .unwrap_err()
                .contains("at most 1000 agents")
        );
        assert!(game.check(&crowd).is_ok(), "by round, any number");
        assert_eq!(at_once.slots(0), 0, "no agents (refused later), no panic");
        assert_eq!(
            game.period(&tft_alld[..9]),
            Some(9),
            "9 agents: 9 rounds, one resting"
        );
        assert!(game.seed_independent(&tft_alld, 9));
        assert!(game.seed_independent(&tft_alld, 18));
        assert!(
            !game.seed_independent(&tft_alld, 1),
            "which round depends on the seed"
        );
        let noisy = RepeatedConfig {
            noise: Probability::new(0.01).unwrap(),
            ..RepeatedConfig::default()
        };
        assert!(!noisy.seed_independent(&tft_alld, 9));
        assert_eq!(noisy.period(&tft_alld), None);
        let random_length = RepeatedConfig {
            continuation: Some(Probability::new(0.9).unwrap()),
            ..RepeatedConfig::default()
        };
        assert!(!random_length.seed_independent(&tft_alld, 9));
        let generous = |g| agents(&[("gtft", &[("generosity", g)]), ("alld", &[])], 5);
        assert!(!game.seed_independent(&generous(0.1), 9));
        assert!(game.seed_independent(&generous(0.0), 9));
        let mut external = tft_alld.clone();
        external[0].controller = Controller::External;
        assert!(!game.seed_independent(&external, 9));
        assert_eq!(game.period(&external), None);
    }
}
