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

use bevy_ecs::component::Component;
use socium_core::{DimId, DimensionInfo, MetricId, MetricInfo, ParamInfo, ParamKind, UtteranceId};

/// Reward dimension: material payoff (resources or points gained and lost).
pub const PAYOFF: DimId = DimId(0);
/// Reward dimension: change in the donor's reputation as others see it.
pub const REPUTATION: DimId = DimId(1);

/// The payoff dimension, first in every donor game's list.
pub const PAYOFF_DIMENSION: DimensionInfo = DimensionInfo {
    name: "payoff",
    summary: "material payoff: resources or points gained (+) and given or lost (−)",
    default_weight: 1.0,
    range: None,
};

/// The reward dimensions of the donation games: payoff and reputation change.
pub static DONATION_DIMENSIONS: [DimensionInfo; 2] = [
    PAYOFF_DIMENSION,
    DimensionInfo {
        name: "reputation",
        summary: "change in the donor's reputation (image, standing or visible share), per donation",
        default_weight: 0.0,
        range: None,
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

/// A round's events, one an utterance said in a row: the `k`-th event's utterance is
/// `first + k`, so that an event need not carry its 8-byte id (cache lines, at thousands of envs:
/// the norms game's events take 16 bytes, not 24).
#[derive(Component, Debug)]
pub(crate) struct Said<E: Send + Sync + 'static> {
    /// The first event's utterance id.
    first: u64,
    list: Vec<E>,
}

impl<E: Send + Sync + 'static> Default for Said<E> {
    fn default() -> Self {
        Said {
            first: 0,
            list: Vec::new(),
        }
    }
}

impl<E: Send + Sync + 'static> Said<E> {
    /// Empties the list for a new round.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }

    /// Adds the event of `utterance`, which must follow the last event's.
    ///
    /// # Panics
    /// If it does not: the game said another utterance between two events (a bug in the game).
    #[inline]
    pub(crate) fn push(&mut self, utterance: UtteranceId, event: E) {
        if self.list.is_empty() {
            self.first = utterance.0;
        }
        assert_eq!(
            utterance.0,
            self.first + self.list.len() as u64,
            "events are said in a row"
        );
        self.list.push(event);
    }

    /// The events, in the order they were said.
    pub(crate) fn events(&self) -> &[E] {
        &self.list
    }

    /// Each event with the id of its utterance.
    pub(crate) fn said(&self) -> impl Iterator<Item = (UtteranceId, &E)> {
        (self.first..).map(UtteranceId).zip(&self.list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_events_get_their_utterances_ids_back_round_after_round() {
        let mut said = Said::default();
        for round in [3u64, 10] {
            said.clear();
            for k in 0..3 {
                said.push(UtteranceId(round + k), k as u8);
            }
            let ids: Vec<_> = said.said().map(|(u, &e)| (u.0, e)).collect();
            assert_eq!(ids, [(round, 0), (round + 1, 1), (round + 2, 2)]);
            assert_eq!(said.events(), [0, 1, 2]);
        }
    }

    #[test]
    #[should_panic(expected = "events are said in a row")]
    fn an_utterance_between_two_events_is_a_bug_caught_where_it_is_made() {
        let mut said = Said::default();
        said.push(UtteranceId(4), ());
        said.push(UtteranceId(6), ());
    }
}
