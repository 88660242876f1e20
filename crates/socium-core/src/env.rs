//! An env: one entity of a World that hosts many. Its components are the kernel's per-env state
//! (clock, done flags, random streams, ledger, utterances, observations, masks, actions, rewards,
//! metrics, graph) and the game's (its state and events); its agents are entities related to it
//! ([`crate::AgentOf`]). [`EnvView`] reads one env, whether it is a `Sim`'s or one of a `VecEnv`'s.

use crate::{
    AgentId, Agents, Clock, DimensionSpec, Done, Faults, Metrics, PolicyExtras, RewardEntry,
    RewardLedger, SocialGraph, Space, StepRewards, TranscriptLine, Turn, Utterance,
    UtteranceEntries, Utterances,
    buffers::Window,
    by_utterance,
    reward::RewardDimensions,
    transcript::{Roles, step_lines},
};
use bevy_ecs::prelude::*;
use serde::Serialize;

/// A flat per-agent buffer, `[agents × dim]`: the env's part of one of its owner's buffers
/// ([`crate::VecBuffers`]).
#[derive(Debug)]
pub struct Rows<T> {
    dim: usize,
    pub(crate) data: Window<T>,
}

impl<T> Rows<T> {
    pub(crate) fn new(data: Window<T>, dim: usize) -> Self {
        Rows { dim, data }
    }

    /// Values per agent.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Agent `a`'s row.
    #[inline]
    pub fn row(&self, a: AgentId) -> &[T] {
        let start = a.index() * self.dim;
        &self.data[start..start + self.dim]
    }

    /// Agent `a`'s row, to write.
    #[inline]
    pub fn row_mut(&mut self, a: AgentId) -> &mut [T] {
        let start = a.index() * self.dim;
        &mut self.data[start..start + self.dim]
    }

    /// All rows, flat.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// All rows, flat, to write.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }
}

/// Observations for the coming step, `[agents × obs_dim]`, written by the game in `Observe`.
#[derive(Component, Debug)]
#[component(on_insert = crate::buffers::stay_home::<Self>)]
pub struct Observations(pub Rows<f32>);

/// Action masks for the coming step, `[agents × mask_dim]` (1 = legal). The kernel makes every act
/// legal before the game's `Observe` systems, which may forbid some; after them it forbids every
/// act of idle agents.
#[derive(Component, Debug)]
#[component(on_insert = crate::buffers::stay_home::<Self>)]
pub struct ActionMasks(pub Rows<u8>);

/// Every agent's action for the step being resolved, `[agents × action_dim]`: external and policy
/// agents' rows copied in before the step, the others written by controllers in `Decide`.
#[derive(Component, Debug)]
#[component(on_insert = crate::buffers::stay_home::<Self>)]
pub struct Actions(pub Rows<f32>);

/// The spaces of every env of a World (one scenario), for systems that need them.
#[derive(Resource, Debug, Clone, PartialEq, Serialize)]
pub struct Spaces {
    /// Observation space (a `Box`).
    pub observation: Space,
    /// Action space.
    pub action: Space,
}

/// Marks an env that this run of the schedule resets instead of stepping: with a seed, its
/// streams restart from it and its graph is drawn anew. Stored sparsely, so marking an env does
/// not move its components.
#[derive(Component, Clone, Copy, Debug)]
#[component(storage = "SparseSet")]
pub struct ResetDue {
    /// The seed, for a seeded reset.
    pub seed: Option<u64>,
}

/// Query filter of the envs a run of the schedule steps: the systems of `Decide`, `Resolve`,
/// `Reward` and `Record` iterate these.
pub type Stepping = Without<ResetDue>;

/// Query filter of the envs a run of the schedule resets: the systems of `Reset` iterate these.
pub type Resetting = With<ResetDue>;

/// Read access to one env: its observations, rewards, utterances and state, wherever it lives.
#[derive(Clone, Copy)]
pub struct EnvView<'w> {
    world: &'w World,
    entity: Entity,
}

impl<'w> EnvView<'w> {
    pub(crate) fn new(world: &'w World, entity: Entity) -> Self {
        EnvView { world, entity }
    }

    /// One of the env's components (a kernel one, or the game's state).
    pub fn get<T: Component>(&self) -> Option<&'w T> {
        self.world.get::<T>(self.entity)
    }

    fn kernel<T: Component>(&self) -> &'w T {
        self.get::<T>()
            .expect("every env has the kernel's components")
    }

    /// The agents' controllers and labels.
    pub fn agents(&self) -> &'w Agents {
        self.world.resource::<Agents>()
    }

    /// Observations for the coming step, `[agents × obs_dim]`.
    pub fn observations(&self) -> &'w [f32] {
        self.kernel::<Observations>().0.as_slice()
    }

    /// Action masks for the coming step, `[agents × mask_dim]`.
    pub fn action_masks(&self) -> &'w [u8] {
        self.kernel::<ActionMasks>().0.as_slice()
    }

    /// Who acts at the coming step, `[agents]`.
    pub fn acting(&self) -> &'w [bool] {
        self.kernel::<Turn>().acting()
    }

    /// Every agent's action at the last step, `[agents × action_dim]` (the rows of agents that
    /// did not act are stale).
    pub fn actions(&self) -> &'w [f32] {
        self.kernel::<Actions>().0.as_slice()
    }

    /// Scalar rewards of the last step, `[agents]`.
    pub fn rewards(&self) -> &'w [f32] {
        self.kernel::<StepRewards>().reward()
    }

    /// Transformed per-dimension rewards of the last step, `[agents × dims]`.
    pub fn reward_components(&self) -> &'w [f32] {
        self.kernel::<StepRewards>().components()
    }

    /// The configured reward dimensions.
    pub fn reward_dimensions(&self) -> &'w [DimensionSpec] {
        &self.world.resource::<RewardDimensions>().0
    }

    /// Raw per-dimension rewards summed over the episode, `[agents × dims]`.
    pub fn episode_raw_rewards(&self) -> &'w [f64] {
        self.kernel::<StepRewards>().episode_raw()
    }

    /// Each agent's transformed reward components summed over the episode so far, `[agents ×
    /// dims]` (unweighted; the raw sums where a dimension's transform is the identity).
    pub fn episode_reward_components(&self) -> Vec<f64> {
        let rewards = self.kernel::<StepRewards>();
        rewards.episode_components(self.reward_dimensions())
    }

    /// The raw per-dimension reward of each agent at the last step, `[agents × dims]`: its
    /// ledger entries summed, before any transform.
    pub fn raw_rewards(&self) -> &'w [f64] {
        self.kernel::<RewardLedger>().raw()
    }

    /// Scalar returns over the episode, `[agents]`.
    pub fn episode_returns(&self) -> &'w [f64] {
        self.kernel::<StepRewards>().episode_return()
    }

    /// Per-agent `terminated` flags.
    pub fn terminated(&self) -> &'w [bool] {
        &self.kernel::<Done>().terminated
    }

    /// Per-agent `truncated` flags.
    pub fn truncated(&self) -> &'w [bool] {
        &self.kernel::<Done>().truncated
    }

    /// Whether every agent is done.
    pub fn is_done(&self) -> bool {
        self.kernel::<Done>().all_done()
    }

    /// Whether the env keeps each step's utterances and reward entries
    /// ([`crate::SimConfig::records`]): without, [`EnvView::utterances`],
    /// [`EnvView::reward_entries`] and the utterance lines of [`EnvView::transcript_lines`] are
    /// empty.
    pub fn keeps_records(&self) -> bool {
        self.kernel::<Utterances>().keep
    }

    /// The utterances of the last step (none when the env keeps no records).
    pub fn utterances(&self) -> &'w [Utterance] {
        self.kernel::<Utterances>().this_step()
    }

    /// How many utterances the last step made, whether or not the env keeps them.
    pub fn utterance_count(&self) -> u64 {
        self.kernel::<Utterances>().made_this_step()
    }

    /// The reward entries of the last step (none when the env keeps no records).
    pub fn reward_entries(&self) -> &'w [RewardEntry] {
        self.kernel::<RewardLedger>().entries()
    }

    /// The last step's reward entries by the utterance they name: earlier utterances they
    /// settle, then each of the step's utterances.
    pub fn entries_by_utterance(&self) -> Vec<UtteranceEntries<'w>> {
        by_utterance(self.utterances(), self.reward_entries())
    }

    /// The last step's transcript lines (see [`TranscriptLine`]) as `transcript.jsonl` holds
    /// them, whether or not the env keeps a transcript: its controllers' faults, then its
    /// utterances with their reward entries (none of those when it keeps no records,
    /// [`EnvView::keeps_records`]). Not the roles line, which only the file holds: a trainer
    /// reading these must not hand hidden roles to its agents ([`EnvView::roles`] has them).
    pub fn transcript_lines(&self) -> Vec<TranscriptLine<'w>> {
        let (episode, step) = (self.clock().episode(), self.kernel::<Utterances>().step);
        let faults = self.faults().current();
        let grouped = self.entries_by_utterance();
        step_lines(
            episode,
            step,
            None,
            faults,
            grouped,
            self.reward_dimensions(),
        )
        .collect()
    }

    /// Each agent's hidden role in the episode, in agent order (empty where the game deals
    /// none).
    pub fn roles(&self) -> &'w [&'static str] {
        self.kernel::<Roles>().get()
    }

    /// Episode metrics so far.
    pub fn metrics(&self) -> &'w Metrics {
        self.kernel::<Metrics>()
    }

    /// Where the env is in time.
    pub fn clock(&self) -> Clock {
        *self.kernel::<Clock>()
    }

    /// The social graph.
    pub fn graph(&self) -> &'w SocialGraph {
        self.kernel::<SocialGraph>()
    }

    /// Every agent's value, where the scenario gives agents values (`[values]`).
    pub fn values(&self) -> Option<&'w [f64]> {
        self.get::<crate::Values>().map(|v| v.0.as_slice())
    }

    /// The extra outputs of policy agents' last forward pass in the episode (a belief head, say;
    /// zeros after a reset).
    pub fn policy_extras(&self) -> &'w PolicyExtras {
        self.kernel::<PolicyExtras>()
    }

    /// Controller faults: the last step's, and each agent's count over the episode.
    pub fn faults(&self) -> &'w Faults {
        self.kernel::<Faults>()
    }
}
