//! `Sim`: one environment — a block of one env (see `block.rs`) — stepped gym-style.

use crate::{
    AgentId, AgentSpec, Combine, Controller, DimensionSpec, Game, GraphSpec, PotentialId,
    ShapingSpec, Spaces,
    block::{Block, Play},
    buffers::{Envs, RowDims},
    env::EnvView,
    policy::{Group, PolicyRunner, groups},
    space::ActionProblem,
    transcript::Transcript,
};
use std::sync::Arc;

/// Everything but the game that makes a Sim.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The agents, in id order.
    pub agents: Vec<AgentSpec>,
    /// How to draw the social graph.
    pub graph: GraphSpec,
    /// Reward dimensions in the game's order, with weights and transforms.
    pub rewards: Vec<DimensionSpec>,
    /// How each agent's weighted components combine into its scalar reward.
    pub combine: Combine,
    /// Potential-based shaping terms added to the scalar reward, by potential.
    pub shaping: Vec<(PotentialId, ShapingSpec)>,
    /// How ties form and break, if they do (`[ties]`).
    pub ties: Option<crate::TieRules>,
    /// How the agents' values drift, if they hold values (`[values]`).
    pub values: Option<crate::ValueRules>,
    /// Step limit of an episode (truncation), if any.
    pub max_steps: Option<u32>,
    /// Seed of the first episode.
    pub seed: u64,
    /// Whether to keep a JSON-lines transcript (which renders utterance text too).
    pub transcript: bool,
    /// Whether to render utterance text without keeping a transcript.
    pub text: bool,
    /// Whether to keep each step's utterances and reward entries for readers
    /// ([`crate::EnvView::utterances`], [`crate::EnvView::reward_entries`],
    /// [`crate::EnvView::transcript_lines`]). Rewards are the same either way: the ledger sums
    /// entries as they come. Off, a step stores nothing per act: an eighth less memory traffic
    /// a step at thousands of envs (docs/BENCHMARKS.md). The kernel keeps them whatever
    /// this says where it reads them itself: a transcript, rendered text, values, ties.
    pub records: bool,
}

impl SimConfig {
    /// `agents` with the game's default rewards, a complete graph, no step limit, no transcript,
    /// and records kept.
    pub fn new(game: &dyn Game, agents: Vec<AgentSpec>, seed: u64) -> Self {
        SimConfig {
            agents,
            graph: GraphSpec::Complete,
            rewards: game
                .reward_dimensions()
                .iter()
                .map(DimensionSpec::default_for)
                .collect(),
            combine: Combine::Sum,
            shaping: Vec::new(),
            ties: None,
            values: None,
            max_steps: None,
            seed,
            transcript: false,
            records: true,
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
    /// A shaping term names a potential the game does not declare.
    #[error("shaping: potential {index} is not declared: the game declares {declared}")]
    Shaping {
        /// The index given.
        index: u16,
        /// The game's potential count.
        declared: usize,
    },
    /// A dimension's transform cannot be served.
    #[error("rewards.{dimension}: {message}")]
    Transform {
        /// The dimension.
        dimension: &'static str,
        /// Why.
        message: String,
    },
}

/// Why a change of settings part-way through an episode ([`Sim::retune`]) was refused. The Sim
/// is unchanged after any of these.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RetuneError {
    /// The game's settings and strategies cannot change part-way ([`crate::Rules::retune`] is
    /// `None`).
    #[error(
        "`{0}`'s settings and its agents' strategies cannot change part-way through an episode \
         (change them at an episode's start: leave `step` out)"
    )]
    Unsupported(&'static str),
    /// The game is another one, or its spaces with these agents differ.
    #[error("`{0}` with these agents does not keep the game's observation and action spaces")]
    Spaces(&'static str),
    /// The agents differ in number (given, then playing).
    #[error("{0} agents given for the {1} playing: the number of agents does not change part-way")]
    Count(usize, usize),
    /// An agent's controller differs in kind (only a scripted agent's strategy and parameters
    /// may change part-way).
    #[error("agent {0}: only a scripted agent's strategy and parameters change part-way")]
    Agent(usize),
    /// The game refuses the change: a setting the play so far depends on differs.
    #[error("`{game}`: {message}")]
    Refused {
        /// The game.
        game: &'static str,
        /// Why.
        message: String,
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

/// What every env of a scenario shares, checked once: spaces, who acts from outside, policies.
pub(crate) struct Setup {
    pub(crate) game: &'static str,
    pub(crate) agent_count: usize,
    /// Values per agent in each kind of the kernel's rows.
    pub(crate) row_dims: RowDims,
    pub(crate) spaces: Spaces,
    /// The agents acting from outside, in id order.
    pub(crate) external: Vec<AgentId>,
    /// The agents whose rows a step copies in: external and policy agents.
    pub(crate) fed: Vec<AgentId>,
    /// The policies and the agents on each, if any agent has one.
    pub(crate) policy_groups: Option<Arc<[Group]>>,
}

impl Setup {
    /// Checks `config` against the game and the graph generator.
    pub(crate) fn new(game: &dyn Game, config: &SimConfig) -> Result<Setup, SimError> {
        let n = config.agents.len();
        let dims = game.reward_dimensions();
        let names_match = config.rewards.len() == dims.len()
            && config
                .rewards
                .iter()
                .zip(dims)
                .all(|(s, d)| s.name == d.name);
        if !names_match {
            let found = config.rewards.iter().map(|s| s.name).collect();
            return Err(SimError::Rewards {
                expected: dims.len(),
                found,
            });
        }
        let labels: Vec<&str> = config.agents.iter().map(|a| &*a.label).collect();
        for dim in &config.rewards {
            dim.transform
                .check(&labels)
                .map_err(|message| SimError::Transform {
                    dimension: dim.name,
                    message,
                })?;
        }
        let declared = game.potentials().len();
        if let Some((p, _)) = config
            .shaping
            .iter()
            .find(|(p, _)| p.0 as usize >= declared)
        {
            return Err(SimError::Shaping {
                index: p.0,
                declared,
            });
        }
        config.graph.check(n).map_err(SimError::Graph)?;
        game.check(&config.agents)
            .map_err(|message| SimError::Game {
                game: game.name(),
                message,
            })?;
        let ids = |keep: fn(&Controller) -> bool| -> Vec<AgentId> {
            (config.agents.iter().enumerate())
                .filter(|(_, a)| keep(&a.controller))
                .map(|(i, _)| AgentId(i as u32))
                .collect()
        };
        let spaces = Spaces {
            observation: game.observation_space(n),
            action: game.action_space(n),
        };
        Ok(Setup {
            game: game.name(),
            agent_count: n,
            row_dims: RowDims {
                obs: spaces.observation.flat_dim(),
                masks: spaces.action.mask_dim(),
                actions: spaces.action.flat_dim(),
                rewards: dims.len(),
            },
            spaces,
            external: ids(|c| *c == Controller::External),
            fed: ids(|c| matches!(c, Controller::External | Controller::Policy(_))),
            policy_groups: groups(&config.agents),
        })
    }

    /// Checks the acting external agents' actions of one env (`[agents × action_dim]`) against
    /// the space and their masks: `external(k)` is the `k`-th external agent's acting flag and
    /// mask row. Free when no agent acts from outside.
    pub(crate) fn check_external<'m>(
        &self,
        external: impl Fn(usize) -> (bool, &'m [u8]),
        actions: &[f32],
    ) -> Result<(), StepError> {
        let per_agent = self.spaces.action.flat_dim();
        for (k, &a) in self.external.iter().enumerate() {
            let (acting, mask) = external(k);
            if acting {
                let i = a.index();
                let row = &actions[i * per_agent..(i + 1) * per_agent];
                self.spaces
                    .action
                    .check(row, mask)
                    .map_err(|problem| StepError::BadAction { agent: a, problem })?;
            }
        }
        Ok(())
    }

    /// Checks free text for external agent `agent` (see [`Sim::set_text`]).
    pub(crate) fn check_text(&self, agent: AgentId, text: &str) -> Result<(), StepError> {
        let bad = |problem| StepError::BadAction { agent, problem };
        if !self.external.contains(&agent) {
            return Err(bad(ActionProblem::TextNotTaken {
                why: "the agent does not act from outside",
            }));
        }
        self.spaces.action.check_text(text).map_err(bad)
    }
}

/// One environment instance: a World holding one env and its schedule, run on one thread.
///
/// ```text
/// reset(seed) : Reset, Observe                            -> env().observations()
/// step(a)     : Decide, Resolve, Reward, Record, Observe  -> env().observations(), rewards, done flags
/// ```
pub struct Sim {
    setup: Setup,
    /// The env, in a block of one, and its rows.
    envs: Envs<Block>,
    /// Runs the policies, if any agent has one.
    policies: Option<Box<PolicyRunner>>,
    /// The step's actions with the policy agents' rows filled in.
    policy_actions: Vec<f32>,
    /// The seed of the last reset, while nothing has happened since: a seeded reset is a pure
    /// function of the seed and the scenario, so resetting again with it changes nothing (and a
    /// million agents' graph is not drawn twice).
    fresh: Option<u64>,
}

impl Sim {
    /// Builds a Sim of `game` and resets it with `config.seed`.
    pub fn new(game: &dyn Game, config: SimConfig) -> Result<Sim, SimError> {
        let setup = Setup::new(game, &config)?;
        let seed = config.seed;
        let (agents, dims) = (setup.agent_count, setup.row_dims);
        let envs = Envs::new(1, agents, dims, |windows| {
            Block::new(game, config, &[seed], &setup.spaces, windows)
        });
        let policies = setup
            .policy_groups
            .clone()
            .map(|g| Box::new(PolicyRunner::new(g, 1, &setup.spaces, setup.agent_count)));
        Ok(Sim {
            setup,
            envs,
            policies,
            policy_actions: Vec::new(),
            fresh: Some(seed),
        })
    }

    /// Starts an episode. With a seed, every random stream restarts from it, the social graph is
    /// drawn anew and the episode counter restarts at 0; without, the streams continue, the graph
    /// stays as it is (ties a game changed included) and the counter goes up.
    pub fn reset(&mut self, seed: Option<u64>) {
        if seed.is_none() || seed != self.fresh {
            self.envs
                .held_mut()
                .run(|_| Play::Reset { seed }, &[], &[], &[]);
        }
        self.fresh = seed;
    }

    /// Puts `game`'s settings and `agents`' strategies in force from the next step on, keeping
    /// the episode's play so far (a `[[timeline]]` change at a step): `game` must be this Sim's
    /// game with other settings and the same spaces, and `agents` this Sim's agents, only
    /// scripted agents' strategies and parameters changed.
    pub fn retune(&mut self, game: &dyn Game, agents: &[AgentSpec]) -> Result<(), RetuneError> {
        let name = game.name();
        let retune = game.retune().ok_or(RetuneError::Unsupported(name))?;
        let spaces = &self.setup.spaces;
        if name != self.game()
            || game.observation_space(agents.len()) != spaces.observation
            || game.action_space(agents.len()) != spaces.action
        {
            return Err(RetuneError::Spaces(name));
        }
        let now = &self.env().agents().specs;
        if agents.len() != now.len() {
            return Err(RetuneError::Count(agents.len(), now.len()));
        }
        let kind_kept = |(a, b): (&AgentSpec, &AgentSpec)| match (&a.controller, &b.controller) {
            (Controller::Scripted(_), Controller::Scripted(_)) => a.social == b.social,
            (x, y) => x == y && a.social == b.social,
        };
        if let Some(i) = now.iter().zip(agents).position(|p| !kind_kept(p)) {
            return Err(RetuneError::Agent(i));
        }
        (self.envs.held_mut().retune(&retune, agents.to_vec())).map_err(|message| {
            RetuneError::Refused {
                game: name,
                message,
            }
        })?;
        self.fresh = None;
        Ok(())
    }

    /// Checks the actions of the acting external agents (`[agents × action_dim]`; other agents'
    /// rows are ignored) without changing anything.
    pub fn check_actions(&self, actions: &[f32]) -> Result<(), StepError> {
        if self.is_done() {
            return Err(StepError::EpisodeOver);
        }
        let n = self.setup.agent_count;
        let per_agent = self.setup.spaces.action.flat_dim();
        if actions.len() != n * per_agent {
            return Err(StepError::WrongShape {
                expected: n * per_agent,
                agents: n,
                per_agent,
                found: actions.len(),
            });
        }
        if self.setup.external.is_empty() {
            // Only external agents' rows are read: nothing more to check, nor to look up.
            return Ok(());
        }
        let env = self.env();
        let (acting, masks) = (env.acting(), env.action_masks());
        let (external, mask_dim) = (&self.setup.external, self.setup.spaces.action.mask_dim());
        self.setup.check_external(
            |k| {
                let a = external[k].index();
                (acting[a], &masks[a * mask_dim..(a + 1) * mask_dim])
            },
            actions,
        )
    }

    /// Sets the free text external agent `agent` sends with its next action, where the action
    /// space has a `Text` part; the game decides which acts use it. Refused, with nothing set, for
    /// an agent that does not act from outside or a text longer than the space takes. Texts are
    /// cleared by every step that plays (and by [`Sim::clear_texts`]); a refused step keeps them.
    pub fn set_text(&mut self, agent: AgentId, text: &str) -> Result<(), StepError> {
        self.setup.check_text(agent, text)?;
        self.fresh = None;
        self.envs.held_mut().set_text(0, agent, text);
        Ok(())
    }

    /// Numbers the current episode `episode`; the count goes on from it. A run that rebuilds its
    /// Sim part-way (a timeline's change) keeps numbering its episodes as one run.
    pub fn renumber_episode(&mut self, episode: u64) {
        self.fresh = None;
        let mut env = self.envs.held_mut().env_mut(0);
        env.get_mut::<crate::Clock>()
            .expect("every env has a clock")
            .episode = episode;
    }

    /// Drops every text set for the next step.
    pub fn clear_texts(&mut self) {
        self.envs.held_mut().clear_texts();
    }

    /// Plays one step with the external agents' actions (policy agents' models run first);
    /// refused, and the Sim unchanged, if any acting external agent's action is illegal, a policy
    /// fails or gives a non-finite output, or the episode is over.
    pub fn step(&mut self, actions: &[f32]) -> Result<(), StepError> {
        self.check_actions(actions)?;
        self.fresh = None;
        let fed = &self.setup.fed;
        let Some(policies) = &mut self.policies else {
            self.envs.held_mut().run(|_| Play::Step, actions, fed, &[]);
            return Ok(());
        };
        let mut filled = std::mem::take(&mut self.policy_actions);
        filled.clear();
        filled.extend_from_slice(actions);
        let blocks = std::slice::from_mut(self.envs.held_mut());
        policies.stage_all(blocks);
        let decided = policies.decide(blocks, &mut filled);
        if decided.is_ok() {
            self.envs
                .held_mut()
                .run(|_| Play::Step, &filled, fed, policies.notes());
        }
        self.policy_actions = filled;
        decided.map_err(|(_, error)| error)
    }

    /// The env: its observations, rewards, utterances and state.
    pub fn env(&self) -> EnvView<'_> {
        self.envs.held().env(0)
    }

    /// Whether every agent is done: `env().is_done()`, read from the env's done flags where they
    /// lie (no component lookup), for loops that ask at every step.
    pub fn is_done(&self) -> bool {
        self.envs.rows().all_done(0, self.setup.agent_count)
    }

    /// Number of agents.
    pub fn agent_count(&self) -> usize {
        self.setup.agent_count
    }

    /// The game's name.
    pub fn game(&self) -> &'static str {
        self.setup.game
    }

    /// Observation and action spaces.
    pub fn spaces(&self) -> &Spaces {
        &self.setup.spaces
    }

    /// The agents an outside trainer acts for, in id order.
    pub fn external_agents(&self) -> &[AgentId] {
        &self.setup.external
    }

    /// Takes the transcript lines written since the last call (empty when none is kept).
    pub fn take_transcript(&mut self) -> Vec<u8> {
        let mut env = self.envs.held_mut().env_mut(0);
        let mut transcript = env
            .get_mut::<Transcript>()
            .expect("every env has a transcript");
        std::mem::take(&mut transcript.buf)
    }

    /// Wall time spent running this Sim's policies (gathering, forward passes, selecting
    /// actions); for a `VecEnv`'s envs, see `VecEnv::policy_time`.
    pub fn policy_time(&self) -> std::time::Duration {
        self.policies
            .as_ref()
            .map_or_else(Default::default, |p| p.time)
    }
}
