//! Partner choice, direct and third-party punishment in the prisoner's dilemma, after Dasgupta &
//! Musolesi (2023, "Investigating the impact of direct punishment on the emergence of cooperation
//! in multi-agent reinforcement learning systems", arXiv 2301.08278).
//!
//! A round is three steps, every agent acting in each where it has a part:
//!
//! 1. **Choose.** In a random order, each agent not yet paired picks a partner among its graph
//!    neighbours not yet paired: at random (act 0) or the most reputable one (act 1, ties broken
//!    at random). An agent left without a partner sits the round out. With `third_party`, each
//!    pair then gets an observer: a random agent sitting out (`random`) or a random neighbour of
//!    either player sitting out (`neighbours`), if any.
//! 2. **Play.** The two players of a pair cooperate (act 1) or defect (act 0) at once and earn the
//!    prisoner's dilemma's payoffs (by default T = 4, R = 3, P = 1, S = 0: (3, 3), (0, 4), (4, 0),
//!    (1, 1)). Reputation moves +1 for a cooperation, −1 for a defection.
//! 3. **Punish.** Each player may punish its partner (act 1); the observer may punish either
//!    player (act 1: the pair's lower id, act 2: the higher). A punishment costs the punisher
//!    `punishment_cost` and the target `punishment_loss` (3). It is just when the target defected
//!    this round (the punisher's reputation +2), unjust otherwise (−3).
//!
//! Every reward is written against the act that caused it: the payoff and the reputation change
//! on the move, a punishment's cost, loss, reputation change and the two punishment counts on the
//! punishment.

use super::{COOPERATION, COOPERATION_METRIC, PAYOFF, PAYOFF_DIMENSION, REPUTATION, unit_param};
use bevy_ecs::prelude::*;
use rand::{Rng, seq::SliceRandom};
use serde::Deserialize;
use socium_core::{
    Act, ActionMasks, Actions, AgentId, AgentSpec, Audience, Clock, DimId, DimensionInfo, Done,
    GameBuilder, MetricId, MetricInfo, Metrics, Observations, Phase, Prompt, Resetting, Retune,
    RewardLedger, Rules, SimRng, SocialGraph, Space, Stepping, Strategies, StrategyChoice,
    StrategyInfo, Turn, TurnOrder, UtteranceId, Utterances,
    bounded::{Count, Finite, NonNegative},
    retune_settings,
};

/// Who may punish besides the players (`[game.punishment] third_party`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ThirdParty {
    /// Nobody.
    #[default]
    None,
    /// A random agent sitting the round out, for each pair.
    Random,
    /// A random graph neighbour of either player sitting the round out, for each pair.
    Neighbours,
}

/// Settings of the punishment game (`[game.punishment]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PunishmentConfig {
    /// The prisoner's dilemma's payoffs.
    pub payoffs: super::repeated::Payoffs,
    /// What a punishment costs the punisher.
    pub punishment_cost: NonNegative,
    /// What a punishment costs its target.
    pub punishment_loss: NonNegative,
    /// Who may punish besides the players.
    pub third_party: ThirdParty,
    /// Rounds per episode (three steps each).
    pub rounds: Count,
}

impl Default for PunishmentConfig {
    fn default() -> Self {
        let f = |v| Finite::new(v).expect("finite");
        PunishmentConfig {
            payoffs: super::repeated::Payoffs {
                t: f(4.0),
                r: f(3.0),
                p: f(1.0),
                s: f(0.0),
            },
            punishment_cost: NonNegative::new(1.0).expect("in range"),
            punishment_loss: NonNegative::new(3.0).expect("in range"),
            third_party: ThirdParty::None,
            rounds: Count::new(50).expect("in range"),
        }
    }
}

/// Reputation change of a cooperation.
pub const COOPERATE_REPUTATION: f64 = 1.0;
/// Reputation change of a defection.
pub const DEFECT_REPUTATION: f64 = -1.0;
/// Reputation change of a just punishment (its target defected this round).
pub const JUST_REPUTATION: f64 = 2.0;
/// Reputation change of an unjust punishment.
pub const UNJUST_REPUTATION: f64 = -3.0;

/// The three steps of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Partners are chosen.
    Choose,
    /// The dilemma is played.
    Play,
    /// Punishments are dealt.
    Punish,
}

impl Stage {
    /// The stage of step `step`.
    pub fn of(step: u32) -> Stage {
        match step % 3 {
            0 => Stage::Choose,
            1 => Stage::Play,
            _ => Stage::Punish,
        }
    }
}

/// Observation layout. Reputations are squashed by `tanh(r / 4)`; a move is 1 (cooperated), 0
/// (defected) or 0.5 (none).
pub mod obs {
    /// 1 at the choose step.
    pub const CHOOSE: usize = 0;
    /// 1 at the play step.
    pub const PLAY: usize = 1;
    /// 1 at the punish step.
    pub const PUNISH: usize = 2;
    /// The agent's reputation.
    pub const OWN_REPUTATION: usize = 3;
    /// 1 when the agent has a partner this round.
    pub const HAS_PARTNER: usize = 4;
    /// The partner's reputation.
    pub const PARTNER_REPUTATION: usize = 5;
    /// The partner's move in its previous game (with anyone).
    pub const PARTNER_LAST: usize = 6;
    /// The agent's move this round.
    pub const OWN_MOVE: usize = 7;
    /// The partner's move this round (known at the punish step).
    pub const PARTNER_MOVE: usize = 8;
    /// 1 when the agent observes a pair this round.
    pub const OBSERVER: usize = 9;
    /// The observed pair's lower-id player's move this round.
    pub const A_MOVE: usize = 10;
    /// The observed pair's higher-id player's move this round.
    pub const B_MOVE: usize = 11;
    /// The share of the episode played.
    pub const PROGRESS: usize = 12;
    /// Entries.
    pub const DIM: usize = 13;
}

/// Reward dimension: punishments dealt (1 each, on the punishment).
pub const PUNISHMENT_GIVEN: DimId = DimId(2);
/// Reward dimension: punishments suffered (1 each, on the punishment).
pub const PUNISHMENT_RECEIVED: DimId = DimId(3);

static DIMENSIONS: [DimensionInfo; 4] = [
    PAYOFF_DIMENSION,
    DimensionInfo {
        name: "reputation",
        summary: "reputation change: +1 a cooperation, -1 a defection, +2 a just punishment, -3 an unjust one",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "punishment_given",
        summary: "1 for each punishment dealt, on the punishment",
        default_weight: 0.0,
        range: None,
    },
    DimensionInfo {
        name: "punishment_received",
        summary: "1 for each punishment suffered, on the punishment",
        default_weight: 0.0,
        range: None,
    },
];

/// Metric: punishments per chance to punish.
pub const PUNISHMENT_RATE: MetricId = MetricId(1);
/// Metric: the share of punishments that were just.
pub const JUST_SHARE: MetricId = MetricId(2);
/// Metric: the correlation of partners' reputations when they are paired.
pub const ASSORTMENT: MetricId = MetricId(3);

static METRICS: [MetricInfo; 4] = [
    COOPERATION_METRIC,
    MetricInfo {
        name: "punishment_rate",
        summary: "punishments dealt per chance to punish (a player's or an observer's punish step)",
    },
    MetricInfo {
        name: "just_share",
        summary: "share of punishments whose target defected that round",
    },
    MetricInfo {
        name: "assortment",
        summary: "Pearson correlation of paired partners' reputations, per round (when defined)",
    },
];

const fn choosing(default: f64) -> socium_core::ParamInfo {
    unit_param(
        "by_reputation",
        "probability of choosing the most reputable neighbour (else a random one)",
        default,
    )
}

strategies! {
    static STRATEGIES, fn strategy -> Strategy = [
        StrategyInfo {
            name: "allc",
            summary: "always cooperates, never punishes",
            params: &[choosing(0.0)],
        } => |c| Strategy::of(Kind::AllC, c),
        StrategyInfo {
            name: "alld",
            summary: "always defects, never punishes",
            params: &[choosing(0.0)],
        } => |c| Strategy::of(Kind::AllD, c),
        StrategyInfo {
            name: "tft",
            summary: "cooperates if the partner cooperated in its previous game (or has none), never punishes",
            params: &[choosing(0.0)],
        } => |c| Strategy::of(Kind::Tft, c),
        StrategyInfo {
            name: "chooser",
            summary: "picks reputable partners, cooperates with a partner of reputation >= 0, never punishes",
            params: &[choosing(1.0)],
        } => |c| Strategy::of(Kind::Chooser, c),
        StrategyInfo {
            name: "punisher",
            summary: "picks reputable partners, cooperates, punishes defectors (its partner, or as an observer)",
            params: &[choosing(1.0)],
        } => |c| Strategy::of(Kind::Punisher, c),
        StrategyInfo {
            name: "antisocial",
            summary: "defects and punishes cooperators (its partner, or as an observer)",
            params: &[choosing(0.0)],
        } => |c| Strategy::of(Kind::Antisocial, c),
    ]
}

/// A scripted player, with its probability of choosing partners by reputation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strategy {
    kind: Kind,
    by_reputation: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    AllC,
    AllD,
    Tft,
    Chooser,
    Punisher,
    Antisocial,
}

impl Strategy {
    /// A strategy of `kind`, choosing partners by reputation as `choice` says.
    fn of(kind: Kind, choice: &StrategyChoice) -> Self {
        Strategy {
            kind,
            by_reputation: choice.param("by_reputation"),
        }
    }

    /// The act at this step, from the observation row.
    pub fn act(&self, obs: &[f32], rng: &mut impl Rng) -> usize {
        let cooperated = |v: f32| v == 1.0;
        let defected = |v: f32| v == 0.0;
        if obs[obs::CHOOSE] == 1.0 {
            return usize::from(rng.random_bool(self.by_reputation));
        }
        if obs[obs::PLAY] == 1.0 {
            let cooperate = match self.kind {
                Kind::AllC | Kind::Punisher => true,
                Kind::AllD | Kind::Antisocial => false,
                Kind::Tft => !defected(obs[obs::PARTNER_LAST]),
                Kind::Chooser => obs[obs::PARTNER_REPUTATION] >= 0.0,
            };
            return usize::from(cooperate);
        }
        // Punish: whom this strategy punishes, if anyone.
        let target = |m: f32| match self.kind {
            Kind::Punisher => defected(m),
            Kind::Antisocial => cooperated(m),
            _ => false,
        };
        if obs[obs::HAS_PARTNER] == 1.0 {
            usize::from(target(obs[obs::PARTNER_MOVE]))
        } else if obs[obs::OBSERVER] == 1.0 {
            match (target(obs[obs::A_MOVE]), target(obs[obs::B_MOVE])) {
                (true, _) => 1,
                (false, true) => 2,
                _ => 0,
            }
        } else {
            0
        }
    }
}

#[derive(Component, Clone, Debug)]
struct State {
    config: PunishmentConfig,
    reputation: Vec<f64>,
    partner: Vec<Option<AgentId>>,
    /// The pair an observer watches, lower id first.
    observed: Vec<Option<[AgentId; 2]>>,
    /// This round's move (cooperated).
    moves: Vec<Option<bool>>,
    /// The move of each agent's previous game.
    last_move: Vec<Option<bool>>,
    order: Vec<usize>,
    scratch: Vec<AgentId>,
}

/// One entry for the ledger.
#[derive(Clone, Copy, Debug)]
struct Entry {
    agent: AgentId,
    utterance: UtteranceId,
    dimension: DimId,
    value: f64,
}

#[derive(Component, Debug, Default)]
struct Events {
    entries: Vec<Entry>,
    /// This step's (cooperations, moves), (punishments, chances, just ones).
    moves: (u32, u32),
    punishments: (u32, u32, u32),
    /// Paired partners' reputations this round, for the assortment.
    pairs: Vec<(f64, f64)>,
}

impl PunishmentConfig {
    /// Steps per episode: three a round.
    pub fn steps(&self) -> u64 {
        3 * u64::from(self.rounds.get())
    }
}

impl Rules for PunishmentConfig {
    fn observation_space(&self, _agents: usize) -> Space {
        let mut low = vec![0.0; obs::DIM];
        low[obs::OWN_REPUTATION] = -1.0;
        low[obs::PARTNER_REPUTATION] = -1.0;
        Space::Box {
            low,
            high: vec![1.0; obs::DIM],
        }
    }

    fn action_space(&self, _agents: usize) -> Space {
        Space::Discrete { n: 3 }
    }

    fn turn_order(&self) -> TurnOrder {
        TurnOrder::Chosen
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

    fn episode_steps(&self) -> Option<u64> {
        Some(self.steps())
    }

    /// Every setting but `rounds` (the episode's length) changes part-way: the payoffs, the
    /// punishment's cost and loss, the third-party punishers.
    fn retune(&self) -> Option<Retune> {
        Some(retune_settings(
            self.clone(),
            |state: &mut State| &mut state.config,
            |now, new| match now.rounds == new.rounds {
                true => Ok(()),
                false => Err("`rounds` changes only at an episode's start".into()),
            },
            strategy,
        ))
    }

    fn prompt(&self, _agents: usize, _agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        let rules = format!(
            "Each round you may be paired with another agent to play the prisoner's dilemma: \
             {}. First each agent picks a partner among its neighbours, at random or the most \
             reputable. After the game, a player may punish its partner, and an observer either \
             player: the punisher pays {}, the target loses {}. Reputation rises by 1 for \
             cooperating and 2 for punishing a defector, and falls by 1 for defecting and 3 for \
             punishing a cooperator. Aim for the highest payoff.",
            self.payoffs.in_words(),
            self.punishment_cost.get(),
            self.punishment_loss.get()
        );
        let said = |m: f32| match m {
            1.0 => "cooperated",
            0.0 => "defected",
            _ => "has not played",
        };
        let reputation = |r: f32| {
            if r > 0.0 {
                "good"
            } else if r < 0.0 {
                "bad"
            } else {
                "neutral"
            }
        };
        let mut situation = format!(
            "Your reputation is {}.",
            reputation(obs[obs::OWN_REPUTATION])
        );
        let acts: &[&str] = if obs[obs::CHOOSE] == 1.0 {
            situation.push_str(" Choose how to pick your partner this round.");
            &[
                "pick a random neighbour",
                "pick the most reputable neighbour",
            ]
        } else if obs[obs::PLAY] == 1.0 {
            situation.push_str(&format!(
                " Your partner's reputation is {}; in its last game it {}.",
                reputation(obs[obs::PARTNER_REPUTATION]),
                said(obs[obs::PARTNER_LAST])
            ));
            &["defect", "cooperate"]
        } else if obs[obs::HAS_PARTNER] == 1.0 {
            situation.push_str(&format!(
                " You {} and your partner {}.",
                said(obs[obs::OWN_MOVE]),
                said(obs[obs::PARTNER_MOVE])
            ));
            &["punish nobody", "punish your partner"]
        } else {
            situation.push_str(&format!(
                " You watched a game: the first player {}, the second {}.",
                said(obs[obs::A_MOVE]),
                said(obs[obs::B_MOVE])
            ));
            &[
                "punish nobody",
                "punish the first player",
                "punish the second player",
            ]
        };
        Prompt {
            rules,
            situation,
            acts: Prompt::legal_acts(3, mask, |i| acts.get(i).copied().unwrap_or("pass").into()),
            amount: None,
        }
    }

    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        if agents.len() < 2 {
            return Err(format!("needs at least 2 agents, found {}", agents.len()));
        }
        Ok(())
    }

    fn build(&self, game: &mut GameBuilder) {
        let n = game.agent_count();
        game.insert_strategies(strategy);
        let state = State {
            config: self.clone(),
            reputation: vec![0.0; n],
            partner: vec![None; n],
            observed: vec![None; n],
            moves: vec![None; n],
            last_move: vec![None; n],
            order: (0..n).collect(),
            scratch: Vec::new(),
        };
        game.env_component(|| state.clone())
            .env_component(Events::default)
            .add_systems(Phase::Reset, reset)
            .add_systems(Phase::Decide, decide)
            .add_systems(Phase::Resolve, resolve)
            .add_systems(Phase::Reward, reward)
            .add_systems(Phase::Record, record)
            .add_systems(Phase::Observe, observe);
    }
}

fn reset(mut envs: Query<&mut State, Resetting>) {
    for state in &mut envs {
        let state = state.into_inner();
        state.reputation.fill(0.0);
        state.partner.fill(None);
        state.observed.fill(None);
        state.moves.fill(None);
        state.last_move.fill(None);
        // The order is shuffled in place each round: a reset starts it afresh.
        (state.order.iter_mut().enumerate()).for_each(|(i, o)| *o = i);
    }
}

fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<(&Turn, &Observations, &mut SimRng, &mut Actions), Stepping>,
) {
    for (turn, obs, rng, actions) in &mut envs {
        let (rng, actions) = (rng.into_inner(), actions.into_inner());
        for (a, strategy) in strategies.iter() {
            if turn.is_acting(a) {
                actions.0.row_mut(a)[0] = strategy.act(obs.0.row(a), &mut rng.decide) as f32;
            }
        }
    }
}

#[allow(clippy::type_complexity)]
fn resolve(
    mut envs: Query<
        (
            &Clock,
            &Turn,
            &Actions,
            &SocialGraph,
            &mut SimRng,
            &mut State,
            &mut Utterances,
            &mut Events,
        ),
        Stepping,
    >,
) {
    for (clock, turn, actions, graph, rng, state, utterances, events) in &mut envs {
        let (state, events, utterances) = (
            state.into_inner(),
            events.into_inner(),
            utterances.into_inner(),
        );
        events.entries.clear();
        events.moves = (0, 0);
        events.punishments = (0, 0, 0);
        events.pairs.clear();
        let act = |a: AgentId| actions.0.row(a)[0] as usize;
        match Stage::of(clock.step()) {
            Stage::Choose => choose(
                state,
                graph,
                rng.into_inner(),
                turn,
                &act,
                utterances,
                events,
            ),
            Stage::Play => play(state, turn, &act, utterances, events),
            Stage::Punish => punish(state, turn, &act, utterances, events),
        }
    }
}

/// Pairs the agents, each choosing in a random order among its neighbours not yet paired, then
/// gives each pair an observer.
fn choose(
    state: &mut State,
    graph: &SocialGraph,
    rng: &mut SimRng,
    turn: &Turn,
    act: &impl Fn(AgentId) -> usize,
    utterances: &mut Utterances,
    events: &mut Events,
) {
    state.partner.fill(None);
    state.observed.fill(None);
    state.moves.fill(None);
    state.order.shuffle(&mut rng.chance);
    let mut pairs = Vec::new();
    for i in 0..state.order.len() {
        let a = AgentId(state.order[i] as u32);
        if state.partner[a.index()].is_some() || !turn.is_acting(a) {
            continue;
        }
        let by_reputation = act(a) == 1;
        let (mut best, mut ties) = (None, 0u32);
        let mut best_reputation = f64::NEG_INFINITY;
        state.scratch.clear();
        for &b in graph.neighbours(a).iter() {
            if b == a || state.partner[b.index()].is_some() || !turn.is_acting(b) {
                continue;
            }
            if !by_reputation {
                state.scratch.push(b);
                continue;
            }
            // The most reputable, ties broken uniformly (reservoir sampling over the ties).
            let r = state.reputation[b.index()];
            if r > best_reputation {
                (best, best_reputation, ties) = (Some(b), r, 1);
            } else if r == best_reputation {
                ties += 1;
                if rng.chance.random_range(0..ties) == 0 {
                    best = Some(b);
                }
            }
        }
        let chosen = match by_reputation {
            true => best,
            false => (!state.scratch.is_empty())
                .then(|| state.scratch[rng.chance.random_range(0..state.scratch.len())]),
        };
        let Some(b) = chosen else { continue };
        state.partner[a.index()] = Some(b);
        state.partner[b.index()] = Some(a);
        pairs.push([a.min(b), a.max(b)]);
        events
            .pairs
            .push((state.reputation[a.index()], state.reputation[b.index()]));
        let how = if by_reputation {
            "the most reputable"
        } else {
            "at random"
        };
        utterances.say(
            a,
            Audience::Agent(b),
            Act {
                kind: "choose",
                target: Some(b),
                value: f64::from(u8::from(by_reputation)),
            },
            || format!("{a} chooses {b} ({how})"),
        );
    }
    let third_party = state.config.third_party;
    if third_party == ThirdParty::None {
        return;
    }
    for pair in pairs {
        state.scratch.clear();
        let idle =
            |b: &AgentId| state.partner[b.index()].is_none() && state.observed[b.index()].is_none();
        match third_party {
            ThirdParty::Random => {
                state
                    .scratch
                    .extend((0..state.partner.len() as u32).map(AgentId).filter(idle));
            }
            ThirdParty::Neighbours => {
                for p in pair {
                    state
                        .scratch
                        .extend(graph.neighbours(p).iter().filter(|b| idle(b)));
                }
                state.scratch.sort_unstable();
                state.scratch.dedup();
            }
            ThirdParty::None => unreachable!("returned above"),
        }
        if state.scratch.is_empty() {
            continue;
        }
        let o = state.scratch[rng.chance.random_range(0..state.scratch.len())];
        state.observed[o.index()] = Some(pair);
    }
}

/// The pairs play the dilemma at once.
fn play(
    state: &mut State,
    turn: &Turn,
    act: &impl Fn(AgentId) -> usize,
    utterances: &mut Utterances,
    events: &mut Events,
) {
    let n = state.partner.len();
    for a in (0..n as u32).map(AgentId) {
        if turn.is_acting(a) && state.partner[a.index()].is_some() {
            state.moves[a.index()] = Some(act(a) == 1);
        }
    }
    for a in (0..n as u32).map(AgentId) {
        let (Some(b), Some(mine)) = (state.partner[a.index()], state.moves[a.index()]) else {
            continue;
        };
        let theirs = state.moves[b.index()].unwrap_or(false);
        let payoff = state.config.payoffs.of(mine, theirs);
        let change = if mine {
            COOPERATE_REPUTATION
        } else {
            DEFECT_REPUTATION
        };
        let u = utterances.say(
            a,
            Audience::Agent(b),
            Act {
                kind: if mine { "cooperate" } else { "defect" },
                target: Some(b),
                value: f64::from(u8::from(mine)),
            },
            || {
                let verb = if mine {
                    "cooperates with"
                } else {
                    "defects against"
                };
                format!("{a} {verb} {b} and scores {payoff}")
            },
        );
        state.reputation[a.index()] += change;
        events.entries.push(Entry {
            agent: a,
            utterance: u,
            dimension: PAYOFF,
            value: payoff,
        });
        events.entries.push(Entry {
            agent: a,
            utterance: u,
            dimension: REPUTATION,
            value: change,
        });
        events.moves.0 += u32::from(mine);
        events.moves.1 += 1;
    }
    for a in 0..n {
        if let Some(m) = state.moves[a] {
            state.last_move[a] = Some(m);
        }
    }
}

/// Players may punish their partner, observers either player.
fn punish(
    state: &mut State,
    turn: &Turn,
    act: &impl Fn(AgentId) -> usize,
    utterances: &mut Utterances,
    events: &mut Events,
) {
    let (cost, loss) = (
        state.config.punishment_cost.get(),
        state.config.punishment_loss.get(),
    );
    for a in (0..state.partner.len() as u32).map(AgentId) {
        if !turn.is_acting(a) {
            continue;
        }
        let target = match (state.partner[a.index()], state.observed[a.index()]) {
            (Some(b), _) => (act(a) == 1).then_some(b),
            (None, Some([x, y])) => [None, Some(x), Some(y)][act(a).min(2)],
            (None, None) => continue,
        };
        events.punishments.1 += 1;
        let Some(t) = target else { continue };
        let just = state.moves[t.index()] == Some(false);
        let change = if just {
            JUST_REPUTATION
        } else {
            UNJUST_REPUTATION
        };
        let u = utterances.say(
            a,
            Audience::Agent(t),
            Act {
                kind: "punish",
                target: Some(t),
                value: loss,
            },
            || {
                let kind = if just { "justly" } else { "unjustly" };
                format!("{a} punishes {t} {kind}: {t} loses {loss}, {a} pays {cost}")
            },
        );
        state.reputation[a.index()] += change;
        events.entries.extend([
            Entry {
                agent: a,
                utterance: u,
                dimension: PAYOFF,
                value: -cost,
            },
            Entry {
                agent: t,
                utterance: u,
                dimension: PAYOFF,
                value: -loss,
            },
            Entry {
                agent: a,
                utterance: u,
                dimension: REPUTATION,
                value: change,
            },
            Entry {
                agent: a,
                utterance: u,
                dimension: PUNISHMENT_GIVEN,
                value: 1.0,
            },
            Entry {
                agent: t,
                utterance: u,
                dimension: PUNISHMENT_RECEIVED,
                value: 1.0,
            },
        ]);
        events.punishments.0 += 1;
        events.punishments.2 += u32::from(just);
    }
}

fn reward(mut envs: Query<(&Events, &mut RewardLedger), Stepping>) {
    for (events, ledger) in &mut envs {
        let mut ledger = ledger.into_inner().writer();
        for e in &events.entries {
            ledger.add(e.agent, e.utterance, e.dimension, e.value);
        }
    }
}

fn record(mut envs: Query<(&Clock, &State, &Events, &mut Metrics, &mut Done), Stepping>) {
    for (clock, state, events, metrics, done) in &mut envs {
        let metrics = metrics.into_inner();
        let (cooperated, moves) = events.moves;
        if moves > 0 {
            metrics.record_many(COOPERATION, f64::from(cooperated), f64::from(moves));
        }
        let (dealt, chances, just) = events.punishments;
        if chances > 0 {
            metrics.record_many(PUNISHMENT_RATE, f64::from(dealt), f64::from(chances));
        }
        if dealt > 0 {
            metrics.record_many(JUST_SHARE, f64::from(just), f64::from(dealt));
        }
        if let Some(r) = correlation(&events.pairs) {
            metrics.record(ASSORTMENT, r);
        }
        if u64::from(clock.step()) + 1 >= state.config.steps() {
            done.into_inner().terminate_all();
        }
    }
}

/// Pearson's correlation of the pairs' two sides, counting each pair both ways (partners are
/// unordered); `None` when undefined.
fn correlation(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let values = pairs.iter().flat_map(|&(x, y)| [(x, y), (y, x)]);
    let n = 2.0 * pairs.len() as f64;
    let mean = pairs.iter().map(|(x, y)| x + y).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in values {
        sxy += (x - mean) * (y - mean);
        sxx += (x - mean) * (x - mean);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Who acts at the coming step, what each sees and may do.
#[allow(clippy::type_complexity)]
fn observe(
    mut envs: Query<(
        &Clock,
        &State,
        &mut Turn,
        &mut Observations,
        &mut ActionMasks,
    )>,
) {
    for (clock, state, turn, observations, masks) in &mut envs {
        let (turn, observations, masks) = (
            turn.into_inner(),
            observations.into_inner(),
            masks.into_inner(),
        );
        let stage = Stage::of(clock.step());
        let progress = (f64::from(clock.step()) / state.config.steps() as f64) as f32;
        let squash = |r: f64| (r / 4.0).tanh() as f32;
        let move_of = |m: Option<bool>| m.map_or(0.5, |c| f32::from(u8::from(c)));
        for a in (0..state.partner.len() as u32).map(AgentId) {
            let (partner, observed) = (state.partner[a.index()], state.observed[a.index()]);
            let acting = turn.is_acting(a)
                && match stage {
                    Stage::Choose => true,
                    Stage::Play => partner.is_some(),
                    Stage::Punish => partner.is_some() || observed.is_some(),
                };
            turn.set_acting(a, acting);
            let mask = masks.0.row_mut(a);
            mask[2] = u8::from(stage == Stage::Punish && partner.is_none() && observed.is_some());
            let row = observations.0.row_mut(a);
            row.fill(0.0);
            row[[obs::CHOOSE, obs::PLAY, obs::PUNISH][stage as usize]] = 1.0;
            row[obs::OWN_REPUTATION] = squash(state.reputation[a.index()]);
            row[obs::PROGRESS] = progress.min(1.0);
            if stage == Stage::Choose {
                continue;
            }
            if let Some(b) = partner {
                row[obs::HAS_PARTNER] = 1.0;
                row[obs::PARTNER_REPUTATION] = squash(state.reputation[b.index()]);
                row[obs::PARTNER_LAST] = move_of(state.last_move[b.index()]);
                row[obs::OWN_MOVE] = move_of(state.moves[a.index()]);
                row[obs::PARTNER_MOVE] = move_of(state.moves[b.index()]);
            }
            if let (Stage::Punish, Some([x, y])) = (stage, observed) {
                row[obs::OBSERVER] = 1.0;
                row[obs::A_MOVE] = move_of(state.moves[x.index()]);
                row[obs::B_MOVE] = move_of(state.moves[y.index()]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assortment_is_pearson_over_both_orders() {
        assert_eq!(correlation(&[(1.0, 1.0)]), None);
        let r = correlation(&[(1.0, 1.0), (-1.0, -1.0)]).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
        let r = correlation(&[(1.0, -1.0), (2.0, -2.0)]).unwrap();
        assert!((r + 1.0).abs() < 1e-12);
        assert_eq!(correlation(&[(0.0, 0.0), (0.0, 0.0)]), None);
    }
}
