//! Games as plugins: the [`Game`] trait, the [`Phase`]s a step runs, and the [`GameBuilder`] a
//! game registers its per-env state and systems in.
//!
//! A World hosts a block of envs of one scenario; a game's systems iterate the envs of their
//! World (queries over env components, filtered by [`crate::Stepping`] or [`crate::Resetting`]),
//! and the body for one env is plain sequential code.

use crate::{
    AgentId, AgentSpec, Agents, Controller, DimensionInfo, EnvAgents, MetricInfo, Space,
    StrategyChoice, StrategyInfo, TurnOrder,
};
use bevy_ecs::{
    prelude::*,
    schedule::{IntoScheduleConfigs, SystemSet},
    system::ScheduleSystem,
};

/// The phases of a run of the schedule, in this order. Envs marked for a reset run `Reset`; the
/// others run `Decide`..`Record`; every env then runs `Observe`, preparing the coming step.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Put the game in its start state (envs filtered by [`crate::Resetting`]).
    Reset,
    /// Scripted controllers write their actions ([`crate::Stepping`] envs).
    Decide,
    /// The game's rules apply every action, emit utterances, change the state.
    Resolve,
    /// Reward components write ledger entries.
    Reward,
    /// Metrics and end-of-episode checks (then the kernel sums the rewards).
    Record,
    /// Draw what the coming step needs (pairings, turns) and write observations and masks, in
    /// every env.
    Observe,
}

/// A game family's rules, as a plugin: it declares its spaces, strategies, reward dimensions and
/// metrics, checks a setup, and registers its per-env state and systems in a [`GameBuilder`].
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
    /// Registers the game's per-env state, agent components and systems.
    fn build(&self, game: &mut GameBuilder);
    /// Whether `episodes` consecutive episodes from a seeded reset give the same rewards and
    /// metrics whatever the seed, with these agents — episode by episode up to their order: then
    /// an evolutionary run plays each distinct population once. Say `true` only when it is
    /// certain, since a wrong `true` silently changes results; the default is `false`.
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

/// Where a [`Game`] registers itself in a World of envs: per-env components, per-agent
/// components and systems. The kernel's components and systems are already in place.
pub struct GameBuilder<'a> {
    pub(crate) world: &'a mut World,
    pub(crate) schedule: &'a mut Schedule,
    pub(crate) envs: &'a [Entity],
}

impl GameBuilder<'_> {
    /// Adds systems to a phase.
    pub fn add_systems<M>(
        &mut self,
        phase: Phase,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.schedule.add_systems(systems.in_set(phase));
        self
    }

    /// Number of agents in each env.
    pub fn agent_count(&self) -> usize {
        self.agents().len()
    }

    /// The agents' controllers and labels.
    pub fn agents(&self) -> &Agents {
        self.world.resource::<Agents>()
    }

    /// Gives every env its own `make()`: the game's per-env state and events.
    pub fn env_component<C: Component>(&mut self, make: impl Fn() -> C) -> &mut Self {
        for &env in self.envs {
            self.world.entity_mut(env).insert(make());
        }
        self
    }

    /// Gives every scripted agent's entity, in every env, the game's strategy component made
    /// from its choice (all at once: one archetype move per batch, not per agent).
    pub fn insert_strategies<C: Component + Clone>(&mut self, make: impl Fn(&StrategyChoice) -> C) {
        let made: Vec<(AgentId, C)> = {
            let agents = self.agents();
            agents
                .ids()
                .filter_map(|a| match agents.controller(a) {
                    Controller::Scripted(choice) => Some((a, make(choice))),
                    _ => None,
                })
                .collect()
        };
        for &env in self.envs {
            let Some(entities) = self.world.get::<EnvAgents>(env) else {
                continue;
            };
            let batch: Vec<(Entity, C)> = made
                .iter()
                .map(|(a, strategy)| (entities.entity(*a), strategy.clone()))
                .collect();
            self.world.insert_batch(batch);
        }
    }
}
