//! Agents: dense ids, who controls them, the registry entries of scripted strategies and the
//! strategies a game makes of them, and the relationship that ties each agent entity to its env.

use crate::{PolicyController, Social};
use bevy_ecs::{component::Component, entity::Entity, resource::Resource};
use serde::{Deserialize, Serialize};
use std::{fmt, ops::Range};

/// Dense agent index, `0..n` in the order the scenario lists agents.
#[derive(
    Component, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct AgentId(pub u32);

impl AgentId {
    /// The id as an index into per-agent arrays.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agent {}", self.0)
    }
}

/// An `Option<AgentId>` in four bytes (an `Option<AgentId>` takes eight): for the per-agent
/// tables a step sweeps at thousands of envs (each donor's recipient), where half the bytes is
/// half the cache lines. `AgentId(u32::MAX)` stands for none; no World holds 2³² agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaybeAgent(u32);

impl MaybeAgent {
    /// No agent.
    pub const NONE: MaybeAgent = MaybeAgent(u32::MAX);

    /// The agent, if any.
    #[inline]
    pub fn get(self) -> Option<AgentId> {
        (self != MaybeAgent::NONE).then_some(AgentId(self.0))
    }
}

impl From<Option<AgentId>> for MaybeAgent {
    #[inline]
    fn from(agent: Option<AgentId>) -> Self {
        match agent {
            Some(a) => {
                debug_assert_ne!(a.0, u32::MAX, "agent ids stop below u32::MAX");
                MaybeAgent(a.0)
            }
            None => MaybeAgent::NONE,
        }
    }
}

impl From<AgentId> for MaybeAgent {
    #[inline]
    fn from(agent: AgentId) -> Self {
        Some(agent).into()
    }
}

/// The env an agent entity belongs to (a bevy relationship: its env lists it in [`EnvAgents`]).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
#[relationship(relationship_target = EnvAgents)]
pub struct AgentOf(pub Entity);

/// An env's agent entities, in [`AgentId`] order (kept by bevy from each agent's [`AgentOf`]).
#[derive(Component, Debug, Default)]
#[relationship_target(relationship = AgentOf, linked_spawn)]
pub struct EnvAgents(Vec<Entity>);

impl EnvAgents {
    /// The entity of agent `a` in this env.
    #[inline]
    pub fn entity(&self, a: AgentId) -> Entity {
        self.0[a.index()]
    }
}

impl std::ops::Deref for EnvAgents {
    type Target = [Entity];
    fn deref(&self) -> &[Entity] {
        &self.0
    }
}

/// The scripted agents' strategies of type `S`, which a game makes from their choices
/// ([`crate::GameBuilder::insert_strategies`]): a resource, one for all the envs of a World, which
/// have the same agents. A game's `Decide` systems read it beside each env's observations, so
/// no env carries a copy and nothing walks the agents' table to decide.
#[derive(Resource, Debug)]
pub struct Strategies<S: Send + Sync + 'static> {
    /// Each agent's strategy, in id order (`None` for agents not scripted).
    by_agent: Vec<Option<S>>,
    /// `by_agent` as runs of agents with one strategy.
    runs: Vec<(Range<usize>, S)>,
}

impl<S: Copy + PartialEq + Send + Sync + 'static> Strategies<S> {
    /// The strategies of agents `0..by_agent.len()`, `None` for those not scripted.
    pub fn new(by_agent: Vec<Option<S>>) -> Self {
        let runs = runs(&by_agent)
            .filter_map(|(agents, s)| s.map(|s| (agents, s)))
            .collect();
        Strategies { by_agent, runs }
    }

    /// Agent `a`'s strategy, if it is scripted.
    #[inline]
    pub fn get(&self, a: AgentId) -> Option<&S> {
        self.by_agent.get(a.index())?.as_ref()
    }

    /// Every scripted agent and its strategy, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (AgentId, &S)> {
        (self.runs.iter())
            .flat_map(|(agents, s)| agents.clone().map(move |a| (AgentId(a as u32), s)))
    }

    /// The scripted agents as runs of consecutive ids with one strategy, in id order: what a
    /// game's `decide` walks to decide for many agents with one strategy at once.
    pub fn runs(&self) -> &[(Range<usize>, S)] {
        &self.runs
    }
}

/// `xs` cut into runs of equal neighbours: each run's index range and value, in order.
pub fn runs<T: PartialEq>(xs: &[T]) -> impl Iterator<Item = (Range<usize>, &T)> {
    xs.chunk_by(|x, y| x == y).scan(0, |start, run| {
        let range = *start..*start + run.len();
        *start = range.end;
        Some((range, &run[0]))
    })
}

/// Who chooses an agent's actions.
///
/// The kernel acts for `Random` agents, takes `External` agents' actions from `Sim::step`, and runs
/// `Policy` agents' models once per step for a whole Sim or `VecEnv` (see [`crate::Policy`]); a
/// game's `Decide` systems act for its `Scripted` agents.
#[derive(Clone, Debug, PartialEq)]
pub enum Controller {
    /// A scripted strategy from the game's registry, with validated parameters.
    Scripted(StrategyChoice),
    /// Uniformly random legal actions from the Sim's `decide` stream.
    Random,
    /// Actions come from outside (a trainer) through `Sim::step`.
    External,
    /// A trained policy (an ONNX model, say), batched with every agent that shares it.
    Policy(PolicyController),
}

impl Controller {
    /// Short name for tables: the strategy name, `random` or `external`.
    pub fn name(&self) -> &str {
        match self {
            Controller::Scripted(choice) => choice.info.name,
            Controller::Random => "random",
            Controller::External => "external",
            Controller::Policy(p) => p.policy.name(),
        }
    }
}

/// A scripted strategy picked from a game's registry, with one value per declared parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyChoice {
    /// The registry entry.
    pub info: &'static StrategyInfo,
    /// Parameter values, in the order of `info.params`.
    pub params: Vec<f64>,
}

impl StrategyChoice {
    /// Which entry of `table` was chosen: its index, found by the entry's identity (a choice
    /// points into the table its game listed), not by its name.
    ///
    /// # Panics
    /// If the choice is not of `table`: a bug in the game (it builds its strategies from
    /// another table than the one it lists).
    pub fn index_in(&self, table: &'static [StrategyInfo]) -> usize {
        (table
            .iter()
            .position(|entry| std::ptr::eq(entry, self.info)))
        .unwrap_or_else(|| {
            panic!(
                "strategy `{}` is not an entry of this table",
                self.info.name
            )
        })
    }

    /// The value of parameter `name`.
    ///
    /// # Panics
    /// If the strategy declares no such parameter: a bug in the game, not bad input.
    pub fn param(&self, name: &str) -> f64 {
        let i = self.info.params.iter().position(|p| p.name == name);
        let i = i.unwrap_or_else(|| panic!("strategy {} has no parameter {name}", self.info.name));
        self.params[i]
    }
}

/// A registry entry: a scripted strategy a scenario may name.
#[derive(Debug, PartialEq)]
pub struct StrategyInfo {
    /// Name used in scenario files (`strategy = "tft"`).
    pub name: &'static str,
    /// One line for `socium list`.
    pub summary: &'static str,
    /// Declared parameters with defaults and ranges.
    pub params: &'static [ParamInfo],
}

/// A declared strategy parameter.
#[derive(Debug, PartialEq)]
pub struct ParamInfo {
    /// Name used in scenario files (`params = { generosity = 0.1 }`).
    pub name: &'static str,
    /// One line for `socium list`.
    pub summary: &'static str,
    /// Value when the scenario gives none.
    pub default: f64,
    /// Lowest legal value.
    pub min: f64,
    /// Highest legal value.
    pub max: f64,
    /// What the values are, and so how they mutate.
    pub kind: ParamKind,
}

/// What a strategy parameter's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Any number in range (a probability, a share); drifts by Gaussian steps.
    Real,
    /// A whole number in range (a threshold); drifts by rounded Gaussian steps.
    Integer,
    /// A table of this many bits (at most 52, so every table is a whole `f64`) written as a
    /// whole number (bit i = entry i; a norm's 8 entries, say); drifts by flipping each bit with
    /// a probability.
    Bits(u8),
}

/// Why a strategy's parameters were refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The strategy declares no such parameter.
    #[error("strategy `{strategy}` has no parameter `{name}` (it has: {known})")]
    Unknown {
        /// The strategy.
        strategy: &'static str,
        /// The unknown name.
        name: String,
        /// The declared names.
        known: String,
    },
    /// Outside the declared range, or fractional where a whole number is needed.
    #[error("`{name}` of strategy `{strategy}` is {value}, expected {expected}")]
    OutOfRange {
        /// The strategy.
        strategy: &'static str,
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What would be legal.
        expected: String,
    },
}

impl ParamInfo {
    /// What values are legal, in words.
    pub fn expected(&self) -> String {
        let kind = match self.kind {
            ParamKind::Real => "a number".to_owned(),
            ParamKind::Integer => "a whole number".to_owned(),
            ParamKind::Bits(k) => format!("a table of {k} bits as a whole number"),
        };
        format!("{kind} in [{}, {}]", self.min, self.max)
    }
}

impl StrategyInfo {
    /// Picks this strategy with the given `(name, value)` parameters; the rest take defaults.
    pub fn choose<'a>(
        &'static self,
        given: impl IntoIterator<Item = (&'a str, f64)>,
    ) -> Result<StrategyChoice, ParamError> {
        let mut params: Vec<f64> = self.params.iter().map(|p| p.default).collect();
        for (name, value) in given {
            let Some(i) = self.params.iter().position(|p| p.name == name) else {
                let known: Vec<_> = self.params.iter().map(|p| p.name).collect();
                return Err(ParamError::Unknown {
                    strategy: self.name,
                    name: name.to_owned(),
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    },
                });
            };
            let p = &self.params[i];
            let legal = value.is_finite()
                && value >= p.min
                && value <= p.max
                && (p.kind == ParamKind::Real || value.fract() == 0.0);
            if !legal {
                return Err(ParamError::OutOfRange {
                    strategy: self.name,
                    name: p.name,
                    value,
                    expected: p.expected(),
                });
            }
            params[i] = value;
        }
        Ok(StrategyChoice { info: self, params })
    }
}

/// How a scenario sets up one agent.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSpec {
    /// Who acts for it.
    pub controller: Controller,
    /// Group label for tables (defaults to the controller's name), shared by the group's agents
    /// (a million agents' specs are copied without a million strings).
    pub label: std::sync::Arc<str>,
    /// How it weighs the others' rewards into its own scalar reward.
    pub social: Social,
}

/// Every agent's controller and label, indexed by [`AgentId`]: the same for every env of a
/// World (a block of envs shares one scenario).
#[derive(Resource, Debug)]
pub struct Agents {
    pub(crate) specs: Vec<AgentSpec>,
    /// Whether some agent is not selfish (the reward sums then look at the others).
    social: bool,
}

impl Agents {
    /// Number of agents.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// Whether there are no agents.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    pub(crate) fn new(specs: Vec<AgentSpec>) -> Self {
        let social = specs.iter().any(|s| s.social != Social::Selfish);
        Agents { specs, social }
    }

    /// Agent `id`'s social preference.
    pub fn social(&self, id: AgentId) -> Social {
        self.specs[id.index()].social
    }

    /// Whether some agent weighs the others' rewards.
    pub fn any_social(&self) -> bool {
        self.social
    }

    /// The controller of agent `id`.
    pub fn controller(&self, id: AgentId) -> &Controller {
        &self.specs[id.index()].controller
    }

    /// The label of agent `id`.
    pub fn label(&self, id: AgentId) -> &str {
        &self.specs[id.index()].label
    }

    /// All ids, in order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = AgentId> + use<> {
        (0..self.specs.len() as u32).map(AgentId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maybe_agent_gives_back_what_it_was_made_of_in_four_bytes() {
        assert_eq!(std::mem::size_of::<MaybeAgent>(), 4);
        for agent in [
            None,
            Some(AgentId(0)),
            Some(AgentId(7)),
            Some(AgentId(u32::MAX - 1)),
        ] {
            assert_eq!(MaybeAgent::from(agent).get(), agent);
        }
        assert_eq!(MaybeAgent::from(AgentId(3)).get(), Some(AgentId(3)));
        assert_eq!(MaybeAgent::NONE.get(), None);
    }

    static GTFT: StrategyInfo = StrategyInfo {
        name: "gtft",
        summary: "generous tit for tat",
        params: &[ParamInfo {
            name: "generosity",
            summary: "probability of forgiving",
            default: 0.1,
            min: 0.0,
            max: 1.0,
            kind: ParamKind::Real,
        }],
    };

    #[test]
    fn runs_cover_every_index_once_in_order() {
        let runs: Vec<_> = super::runs(&[1, 1, 2, 1, 3, 3, 3]).collect();
        assert_eq!(runs, [(0..2, &1), (2..3, &2), (3..4, &1), (4..7, &3)]);
        assert_eq!(super::runs::<u8>(&[]).count(), 0);
    }

    #[test]
    fn strategies_list_the_scripted_agents_in_id_order() {
        let by_agent = [None, Some('a'), Some('a'), None, Some('b'), Some('a'), None];
        let strategies = Strategies::new(by_agent.to_vec());
        assert_eq!(strategies.runs(), [(1..3, 'a'), (4..5, 'b'), (5..6, 'a')]);
        let listed: Vec<_> = strategies.iter().map(|(a, &s)| (a.0, s)).collect();
        assert_eq!(listed, [(1, 'a'), (2, 'a'), (4, 'b'), (5, 'a')]);
        for (a, s) in by_agent.iter().enumerate() {
            assert_eq!(strategies.get(AgentId(a as u32)), s.as_ref());
        }
        assert_eq!(strategies.get(AgentId(7)), None);
    }

    #[test]
    fn a_choice_knows_its_entry_by_identity_not_name() {
        static TABLE: [StrategyInfo; 2] = [
            StrategyInfo {
                name: "a",
                summary: "",
                params: &[],
            },
            StrategyInfo {
                name: "b",
                summary: "",
                params: &[],
            },
        ];
        static OTHER: [StrategyInfo; 1] = [StrategyInfo {
            name: "b",
            summary: "",
            params: &[],
        }];
        let b = TABLE[1].choose([]).unwrap();
        assert_eq!(b.index_in(&TABLE), 1);
        // The same name in another table is another entry.
        let other = OTHER[0].choose([]).unwrap();
        let refused = std::panic::catch_unwind(|| other.index_in(&TABLE)).unwrap_err();
        assert_eq!(
            refused.downcast_ref::<String>().map(String::as_str),
            Some("strategy `b` is not an entry of this table")
        );
    }

    #[test]
    fn choose_fills_defaults_and_checks_ranges() {
        assert_eq!(GTFT.choose([]).unwrap().param("generosity"), 0.1);
        assert_eq!(
            GTFT.choose([("generosity", 0.3)]).unwrap().params,
            vec![0.3]
        );
        let err = GTFT.choose([("generosity", 1.5)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`generosity` of strategy `gtft` is 1.5, expected a number in [0, 1]"
        );
        let err = GTFT.choose([("mercy", 0.3)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "strategy `gtft` has no parameter `mercy` (it has: generosity)"
        );
    }
}
