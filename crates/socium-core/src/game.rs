//! Games as plugins: the [`Rules`] a game plays by, the [`Game`] (rules with a name, made by
//! [`Named`]), the [`Phase`]s a step runs, and the [`GameBuilder`] a game registers its per-env
//! state and systems in.
//!
//! A World hosts a block of envs of one scenario; a game's systems iterate the envs of their
//! World (queries over env components, filtered by [`crate::Stepping`] or [`crate::Resetting`]),
//! and the body for one env is plain sequential code.

use crate::{
    AgentId, AgentSpec, Agents, Controller, DimensionInfo, MetricInfo, PotentialInfo, Space,
    Strategies, StrategyChoice, StrategyInfo, TurnOrder,
};
use bevy_ecs::{
    prelude::*,
    schedule::{IntoScheduleConfigs, SystemSet},
    system::ScheduleSystem,
};
use std::fmt::Write as _;

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
    /// Draw what the coming step needs (pairings; who acts, where the game's turn order is
    /// [`crate::TurnOrder::Chosen`]) and write observations and masks, in every env. A game
    /// whose observations are its own record of play may keep them up to date in `Reset` and
    /// `Resolve` instead (the repeated game's match blocks), and observe nothing here.
    Observe,
}

/// A game's rules, as a plugin: they declare the spaces, strategies, reward dimensions and
/// metrics, check a setup, and register the per-env state and systems in a [`GameBuilder`].
///
/// Rules have no name: a [`Game`] is rules with the name a registry gives them ([`Named`]), so
/// that the name a scenario file writes and the name the game reports are one string (the game
/// registry of `socium-games` gives each its `[game.<name>]` tag).
pub trait Rules: Send + Sync {
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
    /// The potentials of an agent's state a scenario may shape rewards with, in
    /// [`crate::PotentialId`] order; the game writes their values ([`crate::Potentials`]) in
    /// `Observe`, after every reset and every step. None by default.
    fn potentials(&self) -> &'static [PotentialInfo] {
        &[]
    }
    /// How agents take turns: [`TurnOrder::Chosen`] where the game's `Observe` systems choose who
    /// acts ([`crate::Turn::set_acting`]); simultaneous by default.
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
    /// `Some(steps)` when an episode is a series of games of `steps` steps each, every game
    /// starting afresh (the cultural donor game's `games`): then `[evolution] fitness_games =
    /// "last"` may count only the last game's payoffs. The default `None`: an episode is one
    /// game.
    fn game_steps(&self) -> Option<u32> {
        None
    }
    /// `Some(steps)` when every episode takes exactly `steps` steps whatever is played in it (a
    /// set number of rounds), so that a scenario can refuse a `[[timeline]]` change at a step
    /// the episode never reaches before it runs. The default `None`: play decides, or the game
    /// does not say (such a change is then caught when the episode ends first).
    fn episode_steps(&self) -> Option<u64> {
        None
    }
    /// How these rules' settings go into force in envs already playing, part-way through an
    /// episode (a `[[timeline]]` change at a step): the returned function is handed a
    /// [`GameBuilder`] over the running World, whose [`Agents`] already hold the new strategy
    /// choices, and swaps the settings the game's per-env state holds
    /// ([`GameBuilder::update_envs`]) and gives the scripted agents their strategies again
    /// ([`GameBuilder::insert_strategies`]); the play so far stays. It says why not, and
    /// changes nothing, when a setting the play so far depends on differs (the number of rounds
    /// a state has room for, say). `None` (the default) when the game's settings cannot change
    /// part-way at all: such a change is refused.
    fn retune(&self) -> Option<Retune> {
        None
    }
    /// Agent `agent`'s situation in words, for an agent that reads (a language model), rendered
    /// from its observation row and action mask when `agents` play: the rules and its role,
    /// what it sees, and its legal acts. The default lists the numbers and the legal choices'
    /// indices; games describe themselves beside their rules.
    fn prompt(&self, agents: usize, _agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        Prompt::numbers(&self.action_space(agents), obs, mask)
    }
}

/// Puts a game's settings in force in a running World: see [`Rules::retune`].
pub type Retune = Box<dyn Fn(&mut GameBuilder) -> Result<(), String> + Send + Sync>;

/// The usual [`Rules::retune`], for a game whose per-env state `S` holds its settings `K` (at
/// `slot`): once `kept(old, new)` finds that nothing the play so far depends on differs, every
/// env's settings become `settings` and the scripted agents get their strategies `C` again,
/// made by `strategy`.
pub fn retune_settings<S, K, C>(
    settings: K,
    slot: fn(&mut S) -> &mut K,
    kept: fn(&K, &K) -> Result<(), String>,
    strategy: fn(&StrategyChoice) -> C,
) -> Retune
where
    S: Component<Mutability = bevy_ecs::component::Mutable>,
    K: Clone + Send + Sync + 'static,
    C: Copy + PartialEq + Send + Sync + 'static,
{
    Box::new(move |game| {
        game.update_envs(|state: &mut S| {
            let now = slot(state);
            kept(now, &settings)?;
            now.clone_from(&settings);
            Ok(())
        })?;
        game.insert_strategies(strategy);
        Ok(())
    })
}

/// A game in words at one step, for an agent that reads: see [`Rules::prompt`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prompt {
    /// The rules and the agent's role.
    pub rules: String,
    /// What the agent sees now.
    pub situation: String,
    /// The legal choices of the action's first discrete part, each with its words.
    pub acts: Vec<(usize, String)>,
    /// What the action's `Box` value means, if it has one.
    pub amount: Option<String>,
}

impl Prompt {
    /// The legal ones of the `n` choices of the action's first discrete part under `mask`, each
    /// with `words(choice)`.
    pub fn legal_acts(
        n: usize,
        mask: &[u8],
        mut words: impl FnMut(usize) -> String,
    ) -> Vec<(usize, String)> {
        (0..n)
            .filter(|&i| mask.get(i).is_some_and(|&m| m != 0))
            .map(|i| (i, words(i)))
            .collect()
    }

    /// The observation as numbers and the legal choices as indices: what a game that does not
    /// describe itself offers.
    pub fn numbers(action: &Space, obs: &[f32], mask: &[u8]) -> Prompt {
        let mut situation = String::from("Your observation:");
        for v in obs {
            write!(situation, " {v}").expect("writing to a String");
        }
        let n = action.first_discrete().unwrap_or(0) as usize;
        let acts = Prompt::legal_acts(n, mask, |i| format!("act {i}"));
        Prompt {
            rules: String::new(),
            situation,
            acts,
            amount: action
                .box_dim()
                .map(|_| "a number in the bounds given".to_owned()),
        }
    }
}

/// A game: [`Rules`] with a name, the name scenario files and outputs use. The kernel plays a
/// `&dyn Game`; [`Named`] makes one of any rules.
pub trait Game: Rules {
    /// The game's name in scenario files (`[game.<name>]`) and outputs.
    fn name(&self) -> &'static str;
}

/// Rules under a name: the [`Game`] a registry builds, so that the name is the one the registry
/// was given and no game names itself.
#[derive(Clone, Debug)]
pub struct Named<R> {
    name: &'static str,
    rules: R,
}

impl<R: Rules> Named<R> {
    /// `rules` under `name`.
    pub fn new(name: &'static str, rules: R) -> Self {
        Named { name, rules }
    }
}

impl<R: Rules> Game for Named<R> {
    fn name(&self) -> &'static str {
        self.name
    }
}

// Every method is passed on, the provided ones too: a method added to `Rules` must be added here
// (clippy refuses a provided method left to its default, which would hide the game's own).
#[deny(clippy::missing_trait_methods)]
impl<R: Rules> Rules for Named<R> {
    fn observation_space(&self, agents: usize) -> Space {
        self.rules.observation_space(agents)
    }
    fn action_space(&self, agents: usize) -> Space {
        self.rules.action_space(agents)
    }
    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        self.rules.reward_dimensions()
    }
    fn strategies(&self) -> &'static [StrategyInfo] {
        self.rules.strategies()
    }
    fn metrics(&self) -> &'static [MetricInfo] {
        self.rules.metrics()
    }
    fn potentials(&self) -> &'static [PotentialInfo] {
        self.rules.potentials()
    }
    fn turn_order(&self) -> TurnOrder {
        self.rules.turn_order()
    }
    fn default_episodes(&self, agents: usize) -> u64 {
        self.rules.default_episodes(agents)
    }
    fn check(&self, agents: &[AgentSpec]) -> Result<(), String> {
        self.rules.check(agents)
    }
    fn build(&self, game: &mut GameBuilder) {
        self.rules.build(game)
    }
    fn seed_independent(&self, agents: &[AgentSpec], episodes: usize) -> bool {
        self.rules.seed_independent(agents, episodes)
    }
    fn period(&self, agents: &[AgentSpec]) -> Option<u64> {
        self.rules.period(agents)
    }
    fn game_steps(&self) -> Option<u32> {
        self.rules.game_steps()
    }
    fn episode_steps(&self) -> Option<u64> {
        self.rules.episode_steps()
    }
    fn retune(&self) -> Option<Retune> {
        self.rules.retune()
    }
    fn prompt(&self, agents: usize, agent: AgentId, obs: &[f32], mask: &[u8]) -> Prompt {
        self.rules.prompt(agents, agent, obs, mask)
    }
}

/// Where a [`Game`] registers itself in a World of envs: per-env components, per-agent
/// components and systems. The kernel's components and systems are already in place.
pub struct GameBuilder<'a> {
    pub(crate) world: &'a mut World,
    pub(crate) schedules: &'a mut crate::block::Schedules,
    pub(crate) envs: &'a [Entity],
}

impl GameBuilder<'_> {
    /// Adds systems to a phase.
    pub fn add_systems<M>(
        &mut self,
        phase: Phase,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.schedules.add(phase, systems);
        self
    }

    /// Number of agents in each env.
    pub fn agent_count(&self) -> usize {
        self.agents().len()
    }

    /// Whether the scenario shapes rewards with the game's potentials: a game need only write
    /// [`crate::Potentials`] then.
    pub fn shapes(&self) -> bool {
        self.world
            .get_resource::<crate::block::Shaping>()
            .is_some_and(|s| !s.0.is_empty())
    }

    /// The agents' controllers and labels.
    pub fn agents(&self) -> &Agents {
        self.world.resource::<Agents>()
    }

    /// Gives every env its own `make()`, called env by env: the game's per-env state and events.
    pub fn env_component<C: Component>(&mut self, mut make: impl FnMut() -> C) -> &mut Self {
        for &env in self.envs {
            self.world.entity_mut(env).insert(make());
        }
        self
    }

    /// A block-wide array of `len` values an env, all `value`, handed out a window at a call, in
    /// env order: for [`GameBuilder::env_component`]'s `make`, which is called once an env. A
    /// game's per-agent state kept so, rather than in a vector of each env's own, is streamed by
    /// a system sweeping the envs ([`crate::Window`]'s doc says why).
    pub fn env_array<T: Clone + Send + Sync + 'static>(
        &self,
        value: T,
        len: usize,
    ) -> impl FnMut() -> crate::Window<T> + use<T> {
        let mut windows = crate::Window::split(value, len, self.envs.len()).into_iter();
        move || (windows.next()).expect("one window an env: `make` is called once an env")
    }

    /// Changes every env's `C` (a game's per-env state) by `change`, which may refuse: then
    /// no env has changed (every env of a World holds the same settings, so the first refuses
    /// if any does).
    pub fn update_envs<C: Component<Mutability = bevy_ecs::component::Mutable>>(
        &mut self,
        change: impl Fn(&mut C) -> Result<(), String>,
    ) -> Result<(), String> {
        for &env in self.envs {
            if let Some(mut c) = self.world.get_mut::<C>(env) {
                change(&mut c)?;
            }
        }
        Ok(())
    }

    /// Makes the scripted agents' strategies of type `S` from their choices: the World's
    /// [`Strategies`] resource, which every env's `Decide` reads (made anew by a `retune`).
    pub fn insert_strategies<S: Copy + PartialEq + Send + Sync + 'static>(
        &mut self,
        make: impl Fn(&StrategyChoice) -> S,
    ) {
        let agents = self.agents();
        let by_agent = (agents.ids())
            .map(|a| match agents.controller(a) {
                Controller::Scripted(choice) => Some(make(choice)),
                _ => None,
            })
            .collect();
        self.world.insert_resource(Strategies::new(by_agent));
    }
}
