//! `Sim`: one environment instance — one ECS world, a reset and a step schedule, one seed.

use crate::{
    AgentId, AgentSpec, Agents, Attribution, Clock, Controller, DimensionInfo, DimensionSpec, Done,
    GraphSpec, MetricInfo, Metrics, PolicyExtras, RewardEntry, RewardLedger, SimRng, Space,
    StepRewards, StrategyChoice, StrategyInfo, Texts, Turn, TurnOrder, Utterance, UtteranceId,
    Utterances, VecOutputs,
    policy::{Group, PolicyRunner, groups},
    reward::attribute,
    space::ActionProblem,
};
use bevy_ecs::{
    prelude::*,
    schedule::{IntoScheduleConfigs, ScheduleLabel, SingleThreadedExecutor},
    system::{ScheduleSystem, SystemState},
};
use serde::Serialize;
use std::{io::Write as _, sync::Arc};

/// The phases of a step, run in this order. `Reset` runs at every reset; `Decide`..`Record` make
/// up `Sim::step`; `Observe` ends every reset and every step, preparing the coming step.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Put the game in its start state (resources, per-agent components).
    Reset,
    /// Draw what the coming step needs (pairings, turns) and write observations and masks.
    Observe,
    /// Scripted controllers write their actions.
    Decide,
    /// The game's rules apply every action, emit utterances, change the state.
    Resolve,
    /// Reward components write ledger entries.
    Reward,
    /// Metrics and end-of-episode checks (then the kernel sums the rewards).
    Record,
}

/// Kernel systems that bracket the games' phases.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kernel {
    Random,
    Finish,
    BeginTurn,
    EndTurn,
}

#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct ResetSchedule;
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct StepSchedule;

/// A game family's rules, as a plugin: it declares its spaces, strategies, reward dimensions and
/// metrics, checks a setup, and registers its systems and resources in a [`SimBuilder`].
pub trait Game: Send + Sync {
    /// The game's name in scenario files and outputs.
    fn name(&self) -> &'static str;
    /// The observation space (a `Box`) for `agents` agents.
    fn observation_space(&self, agents: usize) -> Space;
    /// Every agent's action space when `agents` play (acts may name other players).
    fn action_space(&self, agents: usize) -> Space;
    /// The reward dimensions, in [`crate::DimId`] order.
    fn reward_dimensions(&self) -> &'static [DimensionInfo];
    /// The scripted strategies a scenario may name.
    fn strategies(&self) -> &'static [StrategyInfo];
    /// The episode metrics, in [`crate::MetricId`] order.
    fn metrics(&self) -> &'static [MetricInfo];
    /// How agents take turns.
    fn turn_order(&self) -> TurnOrder {
        TurnOrder::Simultaneous
    }
    /// Episodes a `socium run` plays when the scenario does not say (a full tournament, say).
    fn default_episodes(&self, _agents: usize) -> u64 {
        1
    }
    /// Refuses setups the rules cannot play (wrong agent count, strategy needing a disabled rule).
    fn check(&self, _agents: &[AgentSpec]) -> Result<(), String> {
        Ok(())
    }
    /// Registers the game's resources and systems.
    fn build(&self, sim: &mut SimBuilder);
    /// Whether `episodes` consecutive episodes from a seeded reset give the same rewards and
    /// metrics whatever the seed, with these agents — episode by episode up to their order: then
    /// an evolutionary run plays each distinct population once. Say `true` only when it is certain, since a wrong `true` silently changes
    /// results; the default is `false`.
    fn seed_independent(&self, _agents: &[AgentSpec], _episodes: usize) -> bool {
        false
    }
    /// `Some(p)` when, with these agents, episode `e + p` of a run (after one seeded reset) always
    /// plays exactly as episode `e` — the same steps, acts, rewards and metrics, whatever the seed
    /// and whatever came between — as the repetitions of a tournament of deterministic players
    /// do. A run that keeps no transcript then plays `p` episodes and repeats their records, as the
    /// `axelrod` library serves deterministic matches from its cache. Say it only when it is
    /// certain; the default is `None`.
    fn period(&self, _agents: &[AgentSpec]) -> Option<u64> {
        None
    }
}

/// Everything but the game that makes a Sim.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The agents, in id order.
    pub agents: Vec<AgentSpec>,
    /// How to draw the social graph.
    pub graph: GraphSpec,
    /// Reward dimensions in the game's order, with weights and transforms.
    pub rewards: Vec<DimensionSpec>,
    /// Step limit of an episode (truncation), if any.
    pub max_steps: Option<u32>,
    /// Seed of the first episode.
    pub seed: u64,
    /// Whether to keep a JSON-lines transcript (which renders utterance text too).
    pub transcript: bool,
    /// Whether to render utterance text without keeping a transcript.
    pub text: bool,
}

impl SimConfig {
    /// `agents` with the game's default rewards, a complete graph, no step limit and no transcript.
    pub fn new(game: &dyn Game, agents: Vec<AgentSpec>, seed: u64) -> Self {
        SimConfig {
            agents,
            graph: GraphSpec::Complete,
            rewards: game
                .reward_dimensions()
                .iter()
                .map(DimensionSpec::default_for)
                .collect(),
            max_steps: None,
            seed,
            transcript: false,
            text: false,
        }
    }
}

/// Why a Sim could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The game refuses the setup.
    #[error("game `{game}`: {message}")]
    Game {
        /// The game.
        game: &'static str,
        /// Why.
        message: String,
    },
    /// The graph generator refuses its parameters.
    #[error("graph: {0}")]
    Graph(String),
    /// The reward dimensions do not match the game's.
    #[error("rewards: expected the {expected} dimensions of the game in order, found {found:?}")]
    Rewards {
        /// The game's dimension count.
        expected: usize,
        /// The names given.
        found: Vec<&'static str>,
    },
}

/// Why a step was refused. The Sim is unchanged after any of these.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StepError {
    /// The action buffer does not have `agents × action_dim` values.
    #[error("actions: expected {expected} values ({agents} agents × {per_agent}), found {found}")]
    WrongShape {
        /// Values expected.
        expected: usize,
        /// Agents.
        agents: usize,
        /// Values per agent.
        per_agent: usize,
        /// Values given.
        found: usize,
    },
    /// An external agent's action is illegal.
    #[error("{agent}: {problem}")]
    BadAction {
        /// The agent.
        agent: AgentId,
        /// What is wrong.
        problem: ActionProblem,
    },
    /// Every agent is done: reset first.
    #[error("the episode is over: call reset before stepping again")]
    EpisodeOver,
    /// A policy's forward pass failed.
    #[error("policy `{policy}` failed: {message}")]
    PolicyFailed {
        /// The policy.
        policy: String,
        /// Why.
        message: String,
    },
    /// A policy gave an agent a NaN or infinite output.
    #[error("policy `{policy}` for {agent}: {message}")]
    PolicyOutput {
        /// The policy.
        policy: String,
        /// The agent.
        agent: AgentId,
        /// Which output, which entry, what value.
        message: String,
    },
}

/// A flat per-agent buffer, `[agents × dim]`, held as a resource.
#[derive(Debug)]
pub struct Rows<T> {
    dim: usize,
    data: Vec<T>,
}

impl<T: Copy + Default> Rows<T> {
    fn new(agents: usize, dim: usize) -> Self {
        Rows {
            dim,
            data: vec![T::default(); agents * dim],
        }
    }

    /// Values per agent.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Agent `a`'s row.
    #[inline]
    pub fn row(&self, a: AgentId) -> &[T] {
        &self.data[a.index() * self.dim..(a.index() + 1) * self.dim]
    }

    /// Agent `a`'s row, to write.
    #[inline]
    pub fn row_mut(&mut self, a: AgentId) -> &mut [T] {
        &mut self.data[a.index() * self.dim..(a.index() + 1) * self.dim]
    }

    /// All rows, flat.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }
}

/// Observations for the coming step, `[agents × obs_dim]`, written by the game in `Observe`.
#[derive(Resource, Debug)]
pub struct Observations(pub Rows<f32>);

/// Action masks for the coming step, `[agents × mask_dim]` (1 = legal). The kernel makes every act
/// legal before the game's `Observe` systems, which may forbid some; after them it forbids every
/// act of idle agents.
#[derive(Resource, Debug)]
pub struct ActionMasks(pub Rows<u8>);

/// Every agent's action for the step being resolved, `[agents × action_dim]`: external ones copied
/// in by `Sim::step`, the others written by controllers in `Decide`.
#[derive(Resource, Debug)]
pub struct Actions(pub Rows<f32>);

/// The Sim's spaces, for systems that need them.
#[derive(Resource, Debug, Clone, PartialEq, Serialize)]
pub struct Spaces {
    /// Observation space (a `Box`).
    pub observation: Space,
    /// Action space.
    pub action: Space,
}

/// The resources a `VecEnv` copies out after every step.
type OutputParams = (
    Res<'static, Observations>,
    Res<'static, ActionMasks>,
    Res<'static, Turn>,
    Res<'static, StepRewards>,
    Res<'static, Done>,
);

/// What `Sim::step` touches before running the step schedule.
type PrologueParams = (
    Res<'static, Clock>,
    ResMut<'static, RewardLedger>,
    ResMut<'static, Utterances>,
    ResMut<'static, Actions>,
);

/// The JSON-lines transcript being written, if one is kept.
#[derive(Resource, Debug, Default)]
struct Transcript {
    enabled: bool,
    names: Vec<&'static str>,
    buf: Vec<u8>,
}

/// Builds a [`Sim`]: the kernel's resources and systems are in place; a [`Game`] adds its own.
///
/// A Sim has two schedules, each run once per call: the reset schedule (`Reset`, then `Observe`)
/// and the step schedule (`Decide` .. `Record`, then `Observe` for the coming step). `Observe`
/// systems are added to both, which is why systems must be `Clone` (plain functions and tuples of
/// them are).
pub struct SimBuilder {
    world: World,
    reset: Schedule,
    step: Schedule,
}

impl SimBuilder {
    /// Adds systems to a phase.
    pub fn add_systems<M>(
        &mut self,
        phase: Phase,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M> + Clone,
    ) -> &mut Self {
        match phase {
            Phase::Reset => {
                self.reset.add_systems(systems.in_set(phase));
            }
            Phase::Observe => {
                self.reset.add_systems(systems.clone().in_set(phase));
                self.step.add_systems(systems.in_set(phase));
            }
            _ => {
                self.step.add_systems(systems.in_set(phase));
            }
        }
        self
    }

    /// The world, to insert resources and per-agent components.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Number of agents.
    pub fn agent_count(&self) -> usize {
        self.world.resource::<Agents>().len()
    }

    /// Gives every scripted agent's entity the game's strategy component, made from its choice.
    pub fn insert_strategies<C: Component>(&mut self, make: impl Fn(&StrategyChoice) -> C) {
        let agents = self.world.resource::<Agents>();
        let strategies: Vec<_> = agents
            .ids()
            .filter_map(|a| match agents.controller(a) {
                Controller::Scripted(choice) => Some((agents.entity(a), make(choice))),
                _ => None,
            })
            .collect();
        for (entity, strategy) in strategies {
            self.world.entity_mut(entity).insert(strategy);
        }
    }
}

/// One environment instance: a `bevy_ecs` world and its schedules, run on one thread.
///
/// ```text
/// reset(seed) : Reset, Observe                   -> observations()
/// step(a)     : Decide, Resolve, Reward, Record, Observe -> observations(), rewards(), done flags
/// ```
pub struct Sim {
    world: World,
    reset: Schedule,
    step: Schedule,
    outputs: SystemState<OutputParams>,
    prologue: SystemState<PrologueParams>,
    agent_count: usize,
    spaces: Spaces,
    external: Vec<AgentId>,
    /// Agents whose rows `step_checked` copies in: external and policy agents.
    fed: Vec<AgentId>,
    /// The policies and the agents on each, if any agent has one.
    policy_groups: Option<Arc<[Group]>>,
    /// Runs the policies when the Sim is stepped alone (a `VecEnv` has its own runner).
    policies: Option<Box<PolicyRunner>>,
    /// The step's actions with the policy agents' rows filled in.
    policy_actions: Vec<f32>,
    graph: GraphSpec,
    game: &'static str,
}

fn schedule(label: impl ScheduleLabel) -> Schedule {
    let mut s = Schedule::new(label);
    s.set_executor(SingleThreadedExecutor::new());
    s
}

impl Sim {
    /// Builds a Sim of `game` and resets it with `config.seed`.
    pub fn new(game: &dyn Game, config: SimConfig) -> Result<Sim, SimError> {
        let n = config.agents.len();
        let dims = game.reward_dimensions();
        if config.rewards.len() != dims.len()
            || config
                .rewards
                .iter()
                .zip(dims)
                .any(|(s, d)| s.name != d.name)
        {
            let found = config.rewards.iter().map(|s| s.name).collect();
            return Err(SimError::Rewards {
                expected: dims.len(),
                found,
            });
        }
        config.graph.check(n).map_err(SimError::Graph)?;
        game.check(&config.agents)
            .map_err(|message| SimError::Game {
                game: game.name(),
                message,
            })?;

        let spaces = Spaces {
            observation: game.observation_space(n),
            action: game.action_space(n),
        };
        let mut world = World::new();
        let entities = config
            .agents
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                world
                    .spawn((AgentId(i as u32), spec.controller.clone()))
                    .id()
            })
            .collect();
        let controller = |a: &AgentId| &config.agents[a.index()].controller;
        let external = (0..n as u32)
            .map(AgentId)
            .filter(|a| *controller(a) == Controller::External)
            .collect();
        let fed = (0..n as u32)
            .map(AgentId)
            .filter(|a| matches!(controller(a), Controller::External | Controller::Policy(_)))
            .collect();
        world.insert_resource(PolicyExtras::new(&config.agents));
        world.insert_resource(Agents {
            entities,
            specs: config.agents.clone(),
        });
        world.insert_resource(Clock::default());
        world.insert_resource(Turn::new(game.turn_order(), n));
        world.insert_resource(Done::new(n, config.max_steps));
        world.insert_resource(Observations(Rows::new(n, spaces.observation.flat_dim())));
        world.insert_resource(ActionMasks(Rows::new(n, spaces.action.mask_dim())));
        world.insert_resource(Actions(Rows::new(n, spaces.action.flat_dim())));
        world.insert_resource(Utterances {
            render_text: config.transcript || config.text,
            ..Default::default()
        });
        world.insert_resource(Texts(vec![None; n]));
        world.insert_resource(RewardLedger {
            entries: Vec::new(),
            dimensions: dims.len() as u16,
        });
        world.insert_resource(StepRewards::new(n, config.rewards));
        world.insert_resource(Metrics::new(game.metrics().len()));
        world.insert_resource(Transcript {
            enabled: config.transcript,
            names: dims.iter().map(|d| d.name).collect(),
            buf: Vec::new(),
        });
        world.insert_resource(spaces.clone());

        let mut reset = schedule(ResetSchedule);
        let mut step = schedule(StepSchedule);
        reset.configure_sets(
            (
                Phase::Reset,
                Kernel::BeginTurn,
                Phase::Observe,
                Kernel::EndTurn,
            )
                .chain(),
        );
        step.configure_sets(
            (
                Kernel::Random,
                Phase::Decide,
                Phase::Resolve,
                Phase::Reward,
                Phase::Record,
                Kernel::Finish,
                Phase::Observe,
                Kernel::EndTurn,
            )
                .chain(),
        );
        // In the step schedule the finishing system starts the next turn itself: one system
        // fewer per step. Idle agents' masks need forbidding only where there are masks.
        reset.add_systems(begin_turn.in_set(Kernel::BeginTurn));
        if spaces.action.mask_dim() > 0 {
            for s in [&mut reset, &mut step] {
                s.add_systems(forbid_idle_actions.in_set(Kernel::EndTurn));
            }
        }
        if config
            .agents
            .iter()
            .any(|a| a.controller == Controller::Random)
        {
            step.add_systems(random_controllers.in_set(Kernel::Random));
        }
        step.add_systems(finish_step.in_set(Kernel::Finish));
        let mut builder = SimBuilder { world, reset, step };
        game.build(&mut builder);

        let SimBuilder {
            mut world,
            reset,
            step,
        } = builder;
        let policies = groups(&config.agents).map(|g| Box::new(PolicyRunner::new(g, 1, &spaces)));
        let mut sim = Sim {
            outputs: SystemState::new(&mut world),
            prologue: SystemState::new(&mut world),
            agent_count: n,
            world,
            reset,
            step,
            spaces,
            external,
            fed,
            policy_groups: groups(&config.agents),
            policies,
            policy_actions: Vec::new(),
            graph: config.graph,
            game: game.name(),
        };
        sim.reset(Some(config.seed));
        Ok(sim)
    }

    /// Starts an episode. With a seed, every random stream restarts from it, the social graph is
    /// drawn anew and the episode counter restarts at 0; without, the streams continue, the graph
    /// stays as it is (ties a game changed included) and the counter goes up.
    pub fn reset(&mut self, seed: Option<u64>) {
        let w = &mut self.world;
        match seed {
            Some(seed) => {
                let mut rng = SimRng::new(seed);
                let n = w.resource::<Agents>().len();
                let graph = self.graph.generate(n, &mut rng);
                w.insert_resource(graph);
                w.insert_resource(rng);
                w.resource_mut::<Clock>().episode = 0;
            }
            None => w.resource_mut::<Clock>().episode += 1,
        }
        w.resource_mut::<Clock>().step = 0;
        w.resource_mut::<Done>().clear();
        w.resource_mut::<Turn>().next = 0;
        w.resource_mut::<RewardLedger>().entries.clear();
        w.resource_mut::<StepRewards>().clear_episode();
        w.resource_mut::<Metrics>().clear();
        let mut u = w.resource_mut::<Utterances>();
        u.current.clear();
        u.next_id = 0;
        u.step = 0;
        w.resource_mut::<Texts>().clear();
        self.reset.run(&mut self.world);
    }

    /// Checks the actions of the acting external agents (`[agents × action_dim]`; other agents'
    /// rows are ignored) without changing anything.
    pub fn check_actions(&self, actions: &[f32]) -> Result<(), StepError> {
        if self.is_done() {
            return Err(StepError::EpisodeOver);
        }
        let n = self.agent_count;
        let per_agent = self.spaces.action.flat_dim();
        if actions.len() != n * per_agent {
            return Err(StepError::WrongShape {
                expected: n * per_agent,
                agents: n,
                per_agent,
                found: actions.len(),
            });
        }
        self.check_external(actions)
    }

    /// The part of [`Sim::check_actions`] that reads the world: the acting external agents'
    /// actions against the space and masks. Free when no agent acts from outside.
    pub(crate) fn check_external(&self, actions: &[f32]) -> Result<(), StepError> {
        if self.external.is_empty() {
            return Ok(());
        }
        let per_agent = self.spaces.action.flat_dim();
        let turn = self.world.resource::<Turn>();
        let masks = &self.world.resource::<ActionMasks>().0;
        for &a in &self.external {
            if turn.is_acting(a) {
                let row = &actions[a.index() * per_agent..(a.index() + 1) * per_agent];
                self.spaces
                    .action
                    .check(row, masks.row(a))
                    .map_err(|problem| StepError::BadAction { agent: a, problem })?;
            }
        }
        Ok(())
    }

    /// Sets the free text external agent `agent` sends with its next action, where the action
    /// space has a `Text` part; the game decides which acts use it. Refused, with nothing set, for
    /// an agent that does not act from outside or a text longer than the space takes. Texts are
    /// cleared by every step that plays (and by [`Sim::clear_texts`]); a refused step keeps them.
    pub fn set_text(&mut self, agent: AgentId, text: &str) -> Result<(), StepError> {
        let bad = |problem| StepError::BadAction { agent, problem };
        if !self.external.contains(&agent) {
            return Err(bad(ActionProblem::TextNotTaken {
                why: "the agent does not act from outside",
            }));
        }
        self.spaces.action.check_text(text).map_err(bad)?;
        self.world.resource_mut::<Texts>().0[agent.index()] = Some(text.to_owned());
        Ok(())
    }

    /// Drops every text set for the next step.
    pub fn clear_texts(&mut self) {
        self.world.resource_mut::<Texts>().clear();
    }

    /// Plays one step with the external agents' actions (policy agents' models run first);
    /// refused, and the Sim unchanged, if any acting external agent's action is illegal, a policy
    /// fails or gives a non-finite output, or the episode is over.
    pub fn step(&mut self, actions: &[f32]) -> Result<(), StepError> {
        self.check_actions(actions)?;
        let Some(mut policies) = self.policies.take() else {
            self.step_checked(actions);
            return Ok(());
        };
        let mut filled = std::mem::take(&mut self.policy_actions);
        filled.clear();
        filled.extend_from_slice(actions);
        policies.stage_all(rayon::iter::once(&self.world));
        let decided = policies.decide(std::slice::from_mut(self), &mut filled);
        self.policies = Some(policies);
        if decided.is_ok() {
            self.step_checked(&filled);
        }
        self.policy_actions = filled;
        decided.map_err(|(_, error)| error)
    }

    /// The policies and the agents on each, if any agent has one.
    pub(crate) fn policy_groups(&self) -> Option<&Arc<[Group]>> {
        self.policy_groups.as_ref()
    }

    /// [`Sim::step`] for actions that passed [`Sim::check_actions`].
    pub(crate) fn step_checked(&mut self, actions: &[f32]) {
        // The step's prologue, done here rather than by a system: clear the last step's
        // utterances and reward entries, copy in the external agents' actions.
        let (clock, mut ledger, mut utterances, mut buf) = self
            .prologue
            .get_mut(&mut self.world)
            .expect("kernel resources exist");
        ledger.entries.clear();
        utterances.current.clear();
        utterances.step = clock.step;
        let per_agent = buf.0.dim();
        for &a in &self.fed {
            let i = a.index() * per_agent;
            buf.0.row_mut(a).copy_from_slice(&actions[i..i + per_agent]);
        }
        self.step.run(&mut self.world);
    }

    /// Copies this step's outputs into one env's slices of `VecEnv` buffers (rewards zeroed when
    /// `zero_rewards`), fetching the resources through a cached system state, and says whether
    /// every agent is done.
    pub(crate) fn write_outputs(&mut self, out: VecOutputs<'_>, zero_rewards: bool) -> bool {
        let (obs, masks, turn, rewards, done) = self
            .outputs
            .get(&self.world)
            .expect("kernel resources exist");
        out.obs.copy_from_slice(obs.0.as_slice());
        out.masks.copy_from_slice(masks.0.as_slice());
        out.acting.copy_from_slice(turn.acting());
        if zero_rewards {
            out.rewards.fill(0.0);
            out.reward_components.fill(0.0);
        } else {
            out.rewards.copy_from_slice(&rewards.reward);
            out.reward_components.copy_from_slice(&rewards.components);
        }
        out.terminated.copy_from_slice(&done.terminated);
        out.truncated.copy_from_slice(&done.truncated);
        done.all_done()
    }

    /// Number of agents.
    pub fn agent_count(&self) -> usize {
        self.agent_count
    }

    /// The game's name.
    pub fn game(&self) -> &'static str {
        self.game
    }

    /// The agents, their controllers and labels.
    pub fn agents(&self) -> &Agents {
        self.world.resource::<Agents>()
    }

    /// Observation and action spaces.
    pub fn spaces(&self) -> &Spaces {
        &self.spaces
    }

    /// The agents an outside trainer acts for, in id order.
    pub fn external_agents(&self) -> &[AgentId] {
        &self.external
    }

    /// Observations for the coming step, `[agents × obs_dim]`.
    pub fn observations(&self) -> &[f32] {
        self.world.resource::<Observations>().0.as_slice()
    }

    /// Action masks for the coming step, `[agents × mask_dim]`.
    pub fn action_masks(&self) -> &[u8] {
        self.world.resource::<ActionMasks>().0.as_slice()
    }

    /// Who acts at the coming step, `[agents]`.
    pub fn acting(&self) -> &[bool] {
        self.world.resource::<Turn>().acting()
    }

    /// Scalar rewards of the last step, `[agents]`.
    pub fn rewards(&self) -> &[f32] {
        &self.world.resource::<StepRewards>().reward
    }

    /// Transformed per-dimension rewards of the last step, `[agents × dims]`.
    pub fn reward_components(&self) -> &[f32] {
        &self.world.resource::<StepRewards>().components
    }

    /// The configured reward dimensions.
    pub fn reward_dimensions(&self) -> &[DimensionSpec] {
        self.world.resource::<StepRewards>().dimensions()
    }

    /// Raw per-dimension rewards summed over the episode, `[agents × dims]`.
    pub fn episode_raw_rewards(&self) -> &[f64] {
        &self.world.resource::<StepRewards>().episode_raw
    }

    /// Scalar returns over the episode, `[agents]`.
    pub fn episode_returns(&self) -> &[f64] {
        &self.world.resource::<StepRewards>().episode_return
    }

    /// Per-agent `terminated` flags.
    pub fn terminated(&self) -> &[bool] {
        &self.world.resource::<Done>().terminated
    }

    /// Per-agent `truncated` flags.
    pub fn truncated(&self) -> &[bool] {
        &self.world.resource::<Done>().truncated
    }

    /// Whether every agent is done.
    pub fn is_done(&self) -> bool {
        self.world.resource::<Done>().all_done()
    }

    /// The utterances of the last step.
    pub fn utterances(&self) -> &[Utterance] {
        self.world.resource::<Utterances>().this_step()
    }

    /// The reward entries of the last step.
    pub fn reward_entries(&self) -> &[RewardEntry] {
        self.world.resource::<RewardLedger>().entries()
    }

    /// The last step's reward entries by the utterance they name: earlier utterances they
    /// settle, then each of the step's utterances.
    pub fn attributions(&self) -> Vec<Attribution<'_>> {
        attribute(self.utterances(), self.reward_entries())
    }

    /// Episode metrics so far.
    pub fn metrics(&self) -> &Metrics {
        self.world.resource::<Metrics>()
    }

    /// Where the Sim is in time.
    pub fn clock(&self) -> Clock {
        *self.world.resource::<Clock>()
    }

    /// Takes the transcript lines written since the last call (empty when none is kept).
    pub fn take_transcript(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.world.resource_mut::<Transcript>().buf)
    }

    /// The ECS world, for reading game state.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Wall time spent running this Sim's policies when stepped alone (gathering, forward
    /// passes, selecting actions); for a `VecEnv`'s envs, see `VecEnv::policy_time`.
    pub fn policy_time(&self) -> std::time::Duration {
        self.policies
            .as_ref()
            .map_or_else(Default::default, |p| p.time)
    }

    pub(crate) fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Every agent's action at the last step, `[agents × action_dim]` (the rows of agents that
    /// did not act are stale).
    pub fn actions(&self) -> &[f32] {
        self.world.resource::<Actions>().0.as_slice()
    }

    /// The extra outputs of policy agents' last forward pass (a belief head, say).
    pub fn policy_extras(&self) -> &PolicyExtras {
        self.world.resource::<PolicyExtras>()
    }
}

/// Sets who acts from the turn order and makes every act legal; the game narrows both.
fn start_turn(turn: &mut Turn, done: &Done, masks: &mut ActionMasks) {
    turn.advance(done);
    if !masks.0.data.is_empty() {
        masks.0.data.fill(1);
    }
}

/// [`start_turn`] after a reset.
fn begin_turn(mut turn: ResMut<Turn>, done: Res<Done>, mut masks: ResMut<ActionMasks>) {
    start_turn(&mut turn, &done, &mut masks);
}

/// Forbids every act of an agent that is idle this step, whoever made it idle.
fn forbid_idle_actions(turn: Res<Turn>, mut masks: ResMut<ActionMasks>) {
    if masks.0.dim() == 0 {
        return;
    }
    for (a, &acting) in turn.acting.iter().enumerate() {
        if !acting {
            masks.0.row_mut(AgentId(a as u32)).fill(0);
        }
    }
}

fn random_controllers(
    agents: Res<Agents>,
    turn: Res<Turn>,
    masks: Res<ActionMasks>,
    spaces: Res<Spaces>,
    mut actions: ResMut<Actions>,
    mut rng: ResMut<SimRng>,
) {
    for a in agents.ids() {
        if turn.is_acting(a) && *agents.controller(a) == Controller::Random {
            spaces
                .action
                .sample(&mut rng.decide, masks.0.row(a), actions.0.row_mut(a));
        }
    }
}

/// One transcript line: an utterance with the reward entries it caused, or the entries settling
/// an utterance of an earlier step.
#[derive(Serialize)]
#[serde(untagged)]
enum TranscriptLine<'a> {
    Made {
        episode: u64,
        #[serde(flatten)]
        utterance: &'a Utterance,
        rewards: Vec<TranscriptReward>,
    },
    Settles {
        episode: u64,
        step: u32,
        settles: UtteranceId,
        rewards: Vec<TranscriptReward>,
    },
}

#[derive(Serialize)]
struct TranscriptReward {
    agent: AgentId,
    dimension: &'static str,
    value: f64,
}

/// Sums the step's rewards, drops the step's texts, advances the clock, truncates at the step limit,
/// starts the next turn, and writes the transcript.
#[allow(clippy::too_many_arguments)]
fn finish_step(
    mut clock: ResMut<Clock>,
    mut done: ResMut<Done>,
    mut turn: ResMut<Turn>,
    mut masks: ResMut<ActionMasks>,
    utterances: Res<Utterances>,
    ledger: Res<RewardLedger>,
    mut rewards: ResMut<StepRewards>,
    mut transcript: ResMut<Transcript>,
    mut texts: ResMut<Texts>,
) {
    texts.clear();
    rewards.aggregate(&ledger);
    let last = done.is_last_step(clock.step);
    clock.step += 1;
    if last {
        let Done {
            terminated,
            truncated,
            ..
        } = &mut *done;
        for (t, u) in terminated.iter().zip(truncated.iter_mut()) {
            *u = !t;
        }
    }
    start_turn(&mut turn, &done, &mut masks);
    if !transcript.enabled {
        return;
    }
    let Transcript { names, buf, .. } = &mut *transcript;
    let named = |rewards: Vec<&RewardEntry>| {
        rewards
            .iter()
            .map(|e| TranscriptReward {
                agent: e.agent,
                dimension: names[e.dimension.0 as usize],
                value: e.value,
            })
            .collect()
    };
    let (episode, step) = (clock.episode, utterances.step);
    for attribution in attribute(utterances.this_step(), ledger.entries()) {
        let line = match attribution {
            Attribution::Made { utterance, rewards } => TranscriptLine::Made {
                episode,
                utterance,
                rewards: named(rewards),
            },
            Attribution::Settles { utterance, rewards } => TranscriptLine::Settles {
                episode,
                step,
                settles: utterance,
                rewards: named(rewards),
            },
        };
        serde_json::to_writer(&mut *buf, &line).expect("serialising to memory cannot fail");
        buf.write_all(b"\n").expect("writing to memory cannot fail");
    }
}
