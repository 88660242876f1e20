//! Opinion dynamics with bounded confidence: Deffuant, Neau, Amblard & Weisbuch 2000 ("Mixing
//! beliefs among interacting agents", Advances in Complex Systems 3) and Hegselmann & Krause 2002
//! ("Opinion dynamics and bounded confidence: models, analysis and simulation", JASSS 5(3)).
//!
//! Every agent holds an opinion x in [0, 1], drawn uniformly at each reset, and at every step
//! expresses an opinion e in [0, 1], its action: a `sincere` agent expresses its opinion as it
//! stands (the published models), a `zealot` a fixed value from which it never moves, a trainer's
//! agent whatever it chooses. Agents move toward what they hear from their graph neighbours,
//! within their confidence bound ε:
//!
//! - `deffuant`: a step is n encounters, one after the other (one Monte Carlo sweep): the
//!   agents i and j of a uniformly random tie meet ([`SocialGraph::random_tie`]); i moves `x_i
//!   += μ_ij(e_j − x_i)` if `|x_i − e_j| < ε`, and j toward e_i by the same rule, both against
//!   what was expressed before either moved, where `μ_ij = min(μ · w_ij, 0.5)` scales μ (in (0,
//!   0.5]) by the weight of their tie times the `trust` in its relationship (all 1 by default:
//!   the published model). Between sincere agents the test is symmetric and the sum of opinions
//!   is kept; from uniform opinions on a complete graph the final clusters number about
//!   ⌊1/(2ε)⌋, one at the mean for ε ≥ 0.5.
//! - `hegselmann_krause`: synchronously, each agent moves to the mean of its own opinion and
//!   the expressions of its neighbours within ε of it (`|x_i − e_j| ≤ ε`), each neighbour
//!   weighted by its tie and the trust in its relationship (all 1 by default on a drawn graph:
//!   the published model). Between sincere agents opinions never leave the convex hull of the
//!   start; large ε gives consensus, small ε fragmentation.
//!
//! An episode lasts `rounds` steps. Rewards, each against the utterance that caused it: `influence`
//! (Deffuant: how far a speaker's expression moved its listener) and `agreement` (1 − the
//! distance between an agent's opinion after the step and the mean expression it heard, on its
//! own last expression of the step). Metrics at the episode's end: the number of opinion clusters,
//! polarisation and the mean opinion distance over ties.

use crate::donor::unit_param;
use bevy_ecs::prelude::*;
use rand::Rng;
use serde::Deserialize;
use socium_core::{
    Act, Actions, AgentId, AgentSpec, Audience, Clock, Controller, DimId, DimensionInfo, Done,
    GameBuilder, MetricId, MetricInfo, Metrics, Observations, Phase, Prompt, Relationship,
    Resetting, RewardLedger, Rules, SimRng, SocialGraph, Space, Stepping, Strategies, StrategyInfo,
    UtteranceId, Utterances,
    bounded::{Count, HalfRate, NonNegative, UnitPositive},
    clusters, tie_distance,
};

/// How opinions move (`[game.opinion] model`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Pairwise encounters (Deffuant et al. 2000).
    #[default]
    Deffuant,
    /// Synchronous averaging within the bound (Hegselmann & Krause 2002).
    HegselmannKrause,
}

/// Settings of the opinion game (`[game.opinion]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OpinionConfig {
    /// How opinions move.
    pub model: Model,
    /// The confidence bound ε: what is farther from an opinion does not move it.
    pub epsilon: UnitPositive,
    /// Deffuant's convergence rate μ.
    pub mu: HalfRate,
    /// Steps per episode.
    pub rounds: Count,
    /// How much a tie of each relationship weighs, times the tie's weight.
    pub trust: Trust,
}

/// How much an agent heeds a tie of each relationship (`[game.opinion] trust`): a factor on the
/// tie's weight, 1 for every kind by default (the published models).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Trust {
    /// A stranger's tie.
    pub stranger: NonNegative,
    /// A tie to someone known by name.
    pub know_by_name: NonNegative,
    /// An acquaintance's tie.
    pub acquaintance: NonNegative,
    /// A friend's tie.
    pub friend: NonNegative,
    /// A romantic partner's tie.
    pub romantic: NonNegative,
    /// A family tie.
    pub family: NonNegative,
}

impl Default for Trust {
    fn default() -> Self {
        let one = NonNegative::new(1.0).expect("in range");
        Trust {
            stranger: one,
            know_by_name: one,
            acquaintance: one,
            friend: one,
            romantic: one,
            family: one,
        }
    }
}

impl Trust {
    /// The factor on a tie of `kind`.
    fn of(&self, kind: Relationship) -> f64 {
        match kind {
            Relationship::Stranger => self.stranger,
            Relationship::KnowByName => self.know_by_name,
            Relationship::Acquaintance => self.acquaintance,
            Relationship::Friend => self.friend,
            Relationship::Romantic => self.romantic,
            Relationship::Family => self.family,
        }
        .get()
    }

    /// Whether ties of `graph` may weigh other than 1: some tie is not a default one, or some
    /// kind is trusted other than fully.
    fn weighs(&self, graph: &SocialGraph) -> bool {
        !graph.default_ties() || *self != Trust::default()
    }
}

impl Default for OpinionConfig {
    fn default() -> Self {
        OpinionConfig {
            model: Model::Deffuant,
            epsilon: UnitPositive::new(0.2).expect("in range"),
            mu: HalfRate::new(0.5).expect("in range"),
            rounds: Count::new(200).expect("in range"),
            trust: Trust::default(),
        }
    }
}

/// Observation layout.
pub mod obs {
    /// The agent's opinion.
    pub const OPINION: usize = 0;
    /// The mean expression it heard last step (its opinion when it heard none).
    pub const HEARD: usize = 1;
    /// The share of what it heard last step that was within ε of its opinion (0 for none).
    pub const WITHIN: usize = 2;
    /// The confidence bound ε.
    pub const EPSILON: usize = 3;
    /// The share of the episode played.
    pub const PROGRESS: usize = 4;
    /// Entries.
    pub const DIM: usize = 5;
}

/// Reward dimension: how far the speaker's expression moved its listener.
pub const INFLUENCE: DimId = DimId(0);
/// Reward dimension: 1 − the distance between the agent's opinion and what it heard.
pub const AGREEMENT: DimId = DimId(1);

static DIMENSIONS: [DimensionInfo; 2] = [
    DimensionInfo {
        name: "influence",
        summary: "how far the agent's expression moved its listener's opinion (deffuant), on the expression",
        default_weight: 1.0,
        range: None,
    },
    DimensionInfo {
        name: "agreement",
        summary: "1 - |own opinion after the step - mean expression heard|, on the agent's last expression",
        default_weight: 0.0,
        range: None,
    },
];

/// Metric: opinion clusters at the end.
pub const CLUSTERS: MetricId = MetricId(0);
/// Metric: polarisation at the end.
pub const POLARISATION: MetricId = MetricId(1);
/// Metric: the mean opinion distance over ties at the end.
pub const TIE_DISTANCE: MetricId = MetricId(2);
/// Metric: the mean opinion at the end.
pub const MEAN_OPINION: MetricId = MetricId(3);

static METRICS: [MetricInfo; 4] = [
    MetricInfo {
        name: "clusters",
        summary: "opinion clusters at the end: runs of sorted opinions split by gaps > ε/2, of at least 2% of the agents",
    },
    MetricInfo {
        name: "polarisation",
        summary: "4 × the variance of the opinions at the end (1: two camps at 0 and 1)",
    },
    MetricInfo {
        name: "tie_distance",
        summary: "mean |x_i - x_j| over the ties at the end",
    },
    MetricInfo {
        name: "mean_opinion",
        summary: "mean opinion at the end",
    },
];

strategies! {
    static STRATEGIES, fn strategy -> Strategy = [
        StrategyInfo {
            name: "sincere",
            summary: "expresses its opinion as it stands (the published models)",
            params: &[],
        } => |_| Strategy::Sincere,
        StrategyInfo {
            name: "zealot",
            summary: "expresses `target` and never moves",
            params: &[unit_param("target", "the opinion it expresses", 1.0)],
        } => |c| Strategy::Zealot(c.param("target")),
    ]
}

/// A scripted opinion holder.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Strategy {
    Sincere,
    Zealot(f64),
}

/// How an agent expresses itself, for the rules.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Voice {
    /// Its opinion as it stands, at every encounter.
    Sincere,
    /// A fixed value; it never moves.
    Zealot,
    /// Its action of the step; it moves by the rules.
    Chosen,
}

#[derive(Component, Clone, Debug)]
struct State {
    config: OpinionConfig,
    voices: Vec<Voice>,
    opinions: Vec<f64>,
    /// What each agent heard this step: the sum of the expressions, their count, and how many
    /// were within ε of its opinion.
    heard: Vec<(f64, u32, u32)>,
    /// The step's expressions (actions, or the opinion for sincere agents).
    expressed: Vec<f64>,
}

impl State {
    /// What agent `a` expresses now.
    fn expression(&self, a: usize) -> f64 {
        match self.voices[a] {
            Voice::Sincere => self.opinions[a],
            Voice::Zealot | Voice::Chosen => self.expressed[a],
        }
    }

    fn moves(&self, a: usize) -> bool {
        self.voices[a] != Voice::Zealot
    }
}

/// One utterance's effects for the ledger.
#[derive(Clone, Copy, Debug)]
struct Effect {
    agent: AgentId,
    utterance: UtteranceId,
    dimension: DimId,
    value: f64,
}

#[derive(Component, Debug, Default)]
struct Events {
    effects: Vec<Effect>,
    /// Each agent's last utterance of the step.
    last_said: Vec<Option<UtteranceId>>,
}

impl Rules for OpinionConfig {
    fn observation_space(&self, _agents: usize) -> Space {
        Space::uniform_box(obs::DIM, 0.0, 1.0)
    }

    fn action_space(&self, _agents: usize) -> Space {
        Space::uniform_box(1, 0.0, 1.0)
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

    fn prompt(&self, _agents: usize, _agent: AgentId, obs: &[f32], _mask: &[u8]) -> Prompt {
        let epsilon = self.epsilon.get();
        let how = match self.model {
            Model::Deffuant => format!(
                "Each step you meet others one at a time; when what one of them says is within \
                 {epsilon} of your opinion, you move {} of the way toward it.",
                self.mu.get()
            ),
            Model::HegselmannKrause => format!(
                "Each step you hear everyone you know, and your opinion becomes the mean of your \
                 own and of what they said within {epsilon} of it."
            ),
        };
        let rules = format!(
            "You hold an opinion, a number from 0 to 1, and each step you say an opinion to \
             the others (not necessarily your own). {how} Others move the same way toward what \
             you say."
        );
        let situation = format!(
            "Your opinion is {:.3}. Last step you heard {:.3} on average, {:.0}% of it within \
             {epsilon} of your opinion. {:.0}% of the discussion is over.",
            obs[obs::OPINION],
            obs[obs::HEARD],
            100.0 * obs[obs::WITHIN],
            100.0 * obs[obs::PROGRESS]
        );
        Prompt {
            rules,
            situation,
            acts: Vec::new(),
            amount: Some("the opinion you say, from 0 to 1".into()),
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
        let agents = game.agents();
        let voices = (agents.ids())
            .map(|a| match agents.controller(a) {
                Controller::Scripted(c) => match strategy(c) {
                    Strategy::Sincere => Voice::Sincere,
                    Strategy::Zealot(_) => Voice::Zealot,
                },
                _ => Voice::Chosen,
            })
            .collect();
        game.insert_strategies(strategy);
        let state = State {
            config: self.clone(),
            voices,
            opinions: vec![0.0; n],
            heard: vec![(0.0, 0, 0); n],
            expressed: vec![0.0; n],
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

/// Deals uniform opinions (a zealot holds its target) and forgets what was heard.
fn reset(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<(&mut SimRng, &mut State), Resetting>,
) {
    for (rng, state) in &mut envs {
        let (rng, state) = (rng.into_inner(), state.into_inner());
        for x in &mut state.opinions {
            *x = rng.chance.random::<f64>();
        }
        for (a, strategy) in strategies.iter() {
            if let Strategy::Zealot(target) = strategy {
                state.opinions[a.index()] = *target;
            }
        }
        state.heard.fill((0.0, 0, 0));
    }
}

/// A scripted agent expresses its opinion (sincere) or its target (zealot).
fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<(&State, &mut Actions), Stepping>,
) {
    for (state, actions) in &mut envs {
        let actions = actions.into_inner();
        for (a, strategy) in strategies.iter() {
            actions.0.row_mut(a)[0] = match strategy {
                Strategy::Sincere => state.opinions[a.index()] as f32,
                Strategy::Zealot(target) => *target as f32,
            };
        }
    }
}

#[allow(clippy::type_complexity)]
fn resolve(
    mut envs: Query<
        (
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
    for (actions, graph, rng, state, utterances, events) in &mut envs {
        let (state, events) = (state.into_inner(), events.into_inner());
        let n = state.opinions.len();
        for a in 0..n {
            state.expressed[a] = f64::from(actions.0.row(AgentId(a as u32))[0]).clamp(0.0, 1.0);
        }
        state.heard.fill((0.0, 0, 0));
        events.effects.clear();
        events.last_said.clear();
        events.last_said.resize(n, None);
        match state.config.model {
            Model::Deffuant => deffuant(
                state,
                graph,
                rng.into_inner(),
                utterances.into_inner(),
                events,
            ),
            Model::HegselmannKrause => {
                hegselmann_krause(state, graph, utterances.into_inner(), events)
            }
        }
    }
}

/// `speaker` expresses `value` to `audience`: the utterance, noted as its last of the step.
fn express(
    utterances: &mut Utterances,
    events: &mut Events,
    speaker: usize,
    audience: Audience,
    value: f64,
) -> UtteranceId {
    let me = AgentId(speaker as u32);
    let target = match audience {
        Audience::Agent(b) => Some(b),
        Audience::All => None,
    };
    let act = Act {
        kind: "express",
        target,
        value,
    };
    let u = utterances.say(me, audience, act, || match target {
        Some(b) => format!("{me} tells {b} its opinion is {value:.3}"),
        None => format!("{me} says its opinion is {value:.3}"),
    });
    events.last_said[speaker] = Some(u);
    u
}

/// n encounters: the two agents of a uniformly random tie hear each other.
fn deffuant(
    state: &mut State,
    graph: &SocialGraph,
    rng: &mut SimRng,
    utterances: &mut Utterances,
    events: &mut Events,
) {
    let n = state.opinions.len();
    let (epsilon, mu) = (state.config.epsilon.get(), state.config.mu.get());
    // Read the ties only where one may weigh other than 1 (a drawn graph's are all 1).
    let trust = state.config.trust;
    let weighted = trust.weighs(graph);
    for _ in 0..n {
        let Some((i, j)) = graph.random_tie(&mut rng.chance) else {
            continue;
        };
        let (i, j) = (i.index(), j.index());
        let (ei, ej) = (state.expression(i), state.expression(j));
        let ui = express(
            utterances,
            events,
            i,
            Audience::Agent(AgentId(j as u32)),
            ei,
        );
        let uj = express(
            utterances,
            events,
            j,
            Audience::Agent(AgentId(i as u32)),
            ej,
        );
        // The tie's weight scales the pull (a friend's counts more than an acquaintance's), up
        // to meeting in the middle.
        let rate = match weighted {
            true => (mu * weight(graph, &trust, i, j)).min(0.5),
            false => mu,
        };
        // Both hear what the other expressed before either moved.
        for (listener, heard, speaker, u) in [(i, ej, j, uj), (j, ei, i, ui)] {
            let x = state.opinions[listener];
            let within = (x - heard).abs() < epsilon;
            let h = &mut state.heard[listener];
            *h = (h.0 + heard, h.1 + 1, h.2 + u32::from(within));
            if within && state.moves(listener) {
                let moved = rate * (heard - x);
                state.opinions[listener] = x + moved;
                events.effects.push(Effect {
                    agent: AgentId(speaker as u32),
                    utterance: u,
                    dimension: INFLUENCE,
                    value: moved.abs(),
                });
            }
        }
    }
}

/// Everyone says its opinion to all; each moves to the mean of itself and what it heard within
/// ε. On a complete graph the window of each agent is found in the sorted expressions (O(n log
/// n)); otherwise over its neighbours (O(ties)).
fn hegselmann_krause(
    state: &mut State,
    graph: &SocialGraph,
    utterances: &mut Utterances,
    events: &mut Events,
) {
    let n = state.opinions.len();
    let epsilon = state.config.epsilon.get();
    let expressed: Vec<f64> = (0..n).map(|a| state.expression(a)).collect();
    for (a, &e) in expressed.iter().enumerate() {
        express(utterances, events, a, Audience::All, e);
    }
    let mut next = state.opinions.clone();
    let trust = state.config.trust;
    if graph.is_complete() && !trust.weighs(graph) {
        let mut sorted = expressed.clone();
        sorted.sort_by(f64::total_cmp);
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0.0);
        for &e in &sorted {
            prefix.push(prefix.last().expect("one pushed") + e);
        }
        let total = prefix[n];
        for (a, next) in next.iter_mut().enumerate() {
            let (x, own) = (state.opinions[a], expressed[a]);
            let lo = sorted.partition_point(|&e| e < x - epsilon);
            let hi = sorted.partition_point(|&e| e <= x + epsilon);
            let (mut sum, mut count) = (prefix[hi] - prefix[lo], (hi - lo) as u32);
            // The agent hears everyone else; its own expression is not among what it heard.
            if (own - x).abs() <= epsilon {
                sum -= own;
                count -= 1;
            }
            state.heard[a] = (total - own, n as u32 - 1, count);
            *next = (x + sum) / f64::from(count + 1);
        }
    } else {
        for (a, next) in next.iter_mut().enumerate() {
            let x = state.opinions[a];
            // The mean weighs each neighbour by its tie (1 for an acquaintance), the agent
            // itself by 1.
            let (mut weights, mut heard_sum, mut sum, mut count, mut heard) =
                (0.0, 0.0, 0.0, 0u32, 0u32);
            for &b in graph.neighbours(AgentId(a as u32)).iter() {
                let e = expressed[b.index()];
                heard_sum += e;
                heard += 1;
                if (e - x).abs() <= epsilon {
                    let w = weight(graph, &trust, a, b.index());
                    sum += w * e;
                    weights += w;
                    count += 1;
                }
            }
            state.heard[a] = (heard_sum, heard, count);
            *next = (x + sum) / (1.0 + weights);
        }
    }
    for ((x, new), voice) in state.opinions.iter_mut().zip(next).zip(&state.voices) {
        if *voice != Voice::Zealot {
            *x = new;
        }
    }
}

/// Reward components: each expression's influence, and each agent's agreement with what it
/// heard, on its own last expression.
fn reward(mut envs: Query<(&State, &Events, &mut RewardLedger), Stepping>) {
    for (state, events, ledger) in &mut envs {
        let mut ledger = ledger.into_inner().writer();
        for e in &events.effects {
            ledger.add(e.agent, e.utterance, e.dimension, e.value);
        }
        for (a, (&(sum, count, _), said)) in state.heard.iter().zip(&events.last_said).enumerate() {
            if let (Some(u), true) = (said, count > 0) {
                let mean = sum / f64::from(count);
                let agreement = 1.0 - (state.opinions[a] - mean).abs();
                ledger.add(AgentId(a as u32), *u, AGREEMENT, agreement);
            }
        }
    }
}

/// The weight of the tie between `a` and `b` (at least 0) times the trust in its kind.
fn weight(graph: &SocialGraph, trust: &Trust, a: usize, b: usize) -> f64 {
    graph
        .tie(AgentId(a as u32), AgentId(b as u32))
        .map_or(0.0, |t| f64::from(t.weight).max(0.0) * trust.of(t.kind))
}

/// At the last round: clusters, polarisation, tie distance and mean opinion; the episode ends.
fn record(mut envs: Query<(&Clock, &State, &SocialGraph, &mut Metrics, &mut Done), Stepping>) {
    for (clock, state, graph, metrics, done) in &mut envs {
        if clock.step() + 1 < state.config.rounds.get() {
            continue;
        }
        let metrics = metrics.into_inner();
        let x = &state.opinions;
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let variance = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        metrics.record(
            CLUSTERS,
            clusters(x, state.config.epsilon.get() / 2.0, 0.02) as f64,
        );
        metrics.record(POLARISATION, 4.0 * variance);
        metrics.record(TIE_DISTANCE, tie_distance(x, graph));
        metrics.record(MEAN_OPINION, mean);
        done.into_inner().terminate_all();
    }
}

/// Writes each agent's opinion, what it heard last step, ε and the progress of the episode.
fn observe(mut envs: Query<(&Clock, &State, &mut Observations)>) {
    for (clock, state, observations) in &mut envs {
        let observations = observations.into_inner();
        let progress = clock.step() as f32 / state.config.rounds.get() as f32;
        for (a, (&x, &(sum, count, within))) in state.opinions.iter().zip(&state.heard).enumerate()
        {
            let row = observations.0.row_mut(AgentId(a as u32));
            row[obs::OPINION] = x as f32;
            row[obs::HEARD] = if count > 0 {
                (sum / f64::from(count)) as f32
            } else {
                x as f32
            };
            row[obs::WITHIN] = if count > 0 {
                within as f32 / count as f32
            } else {
                0.0
            };
            row[obs::EPSILON] = state.config.epsilon.get() as f32;
            row[obs::PROGRESS] = progress.min(1.0);
        }
    }
}
