//! Donor games and other cooperation dilemmas.
//!
//! - [`cultural`]: the donor game of Vallinder & Hughes (2024), with traces of past donations.
//! - [`indirect`]: indirect reciprocity by image scoring (Nowak & Sigmund 1998) and by
//!   second-order norms, the leading eight among them (Ohtsuki & Iwasa 2004).
//! - [`repeated`]: repeated two-player games and Axelrod-style round-robin tournaments.
//! - [`punishment`]: partner choice and direct and third-party punishment in the prisoner's
//!   dilemma (Dasgupta & Musolesi 2023).

pub mod cultural;
pub mod indirect;
pub mod punishment;
pub mod repeated;

use bevy_ecs::prelude::*;
use socium_core::{
    AgentId, DimId, DimensionInfo, EnvAgents, MetricId, MetricInfo, ParamInfo, ParamKind,
};
use std::ops::Range;

/// Reward dimension: material payoff (resources or points gained and lost).
pub const PAYOFF: DimId = DimId(0);
/// Reward dimension: change in the donor's reputation as others see it.
pub const REPUTATION: DimId = DimId(1);

/// The payoff dimension, first in every donor game's list.
pub const PAYOFF_DIMENSION: DimensionInfo = DimensionInfo {
    name: "payoff",
    summary: "material payoff: resources or points gained (+) and given or lost (−)",
    default_weight: 1.0,
};

/// The reward dimensions of the donation games: payoff and reputation change.
pub static DONATION_DIMENSIONS: [DimensionInfo; 2] = [
    PAYOFF_DIMENSION,
    DimensionInfo {
        name: "reputation",
        summary: "change in the donor's reputation (image, standing or visible share), per donation",
        default_weight: 0.0,
    },
];

/// Metric: share of cooperation (donated share, or fraction of cooperative moves).
pub const COOPERATION: MetricId = MetricId(0);

/// The cooperation-rate metric, first in every donor game's list.
pub const COOPERATION_METRIC: MetricInfo = MetricInfo {
    name: "cooperation_rate",
    summary: "mean share donated, or fraction of cooperative moves, over all decisions",
};

/// A parameter that is a share or probability in [0, 1].
pub(crate) const fn unit_param(
    name: &'static str,
    summary: &'static str,
    default: f64,
) -> ParamInfo {
    ParamInfo {
        name,
        summary,
        default,
        min: 0.0,
        max: 1.0,
        kind: ParamKind::Real,
    }
}

/// The runs of equal neighbours in `xs`: each run's range of indices and its value.
pub(crate) fn runs<T: PartialEq>(xs: &[T]) -> impl Iterator<Item = (Range<usize>, &T)> {
    xs.chunk_by(|x, y| x == y).scan(0, |start, run| {
        let range = *start..*start + run.len();
        *start = range.end;
        Some((range, &run[0]))
    })
}

/// An env's copy of its scripted agents' strategies, made at every reset from the agents'
/// strategy components, so that deciding needs no query over the agents' table. A game that
/// changes strategies in a `retune` must copy them again there.
#[derive(Clone, Debug)]
pub(crate) struct Scripted<S> {
    /// Each agent's strategy, in id order (`None` for agents not scripted).
    pub(crate) by_agent: Vec<Option<S>>,
    /// `by_agent` as runs of agents with one strategy: what a game's `decide` walks.
    pub(crate) runs: Vec<(Range<usize>, S)>,
}

impl<S: Component + Copy + PartialEq> Scripted<S> {
    /// No strategy yet, for `n` agents.
    pub(crate) fn new(n: usize) -> Self {
        Scripted {
            by_agent: vec![None; n],
            runs: Vec::new(),
        }
    }

    /// Copies the strategies of an env's `agents` from `strategies`.
    pub(crate) fn copy(&mut self, agents: &EnvAgents, strategies: &Query<(&AgentId, &S)>) {
        self.by_agent.fill(None);
        for (a, strategy) in strategies.iter_many(agents.iter()).filter_map(Result::ok) {
            self.by_agent[a.index()] = Some(*strategy);
        }
        self.runs.clear();
        for (agents, strategy) in runs(&self.by_agent) {
            if let Some(strategy) = *strategy {
                self.runs.push((agents, strategy));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_cover_every_index_once_in_order() {
        let runs: Vec<_> = super::runs(&[1, 1, 2, 1, 3, 3, 3]).collect();
        assert_eq!(runs, [(0..2, &1), (2..3, &2), (3..4, &1), (4..7, &3)]);
        assert_eq!(super::runs::<u8>(&[]).count(), 0);
    }
}
