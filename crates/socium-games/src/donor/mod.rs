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
use socium_core::{
    DimId, DimensionInfo, GameBuilder, MetricId, MetricInfo, ParamInfo, ParamKind, UtteranceId,
    Window,
};

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
/// the norms game's events take 16 bytes, not 24). The list is a window of a block-wide array
/// with room for a round's events ([`Said::lists`]), not a vector of each env's own: a system
/// sweeping the envs streams it ([`socium_core::Window`]'s doc says why).
#[derive(Component, Debug)]
pub(crate) struct Said<E: Send + Sync + 'static> {
    /// The first event's utterance id.
    first: u64,
    /// Events this round.
    len: usize,
    list: Window<E>,
}

impl<E: Copy + Send + Sync + 'static> Said<E> {
    /// Every env's list, one a call ([`GameBuilder::env_component`]'s `make`), each with room for
    /// `room` events a round, in one block-wide array; `filler` fills the room not yet used.
    pub(crate) fn lists(
        game: &GameBuilder,
        room: usize,
        filler: E,
    ) -> impl FnMut() -> Said<E> + use<E> {
        let mut lists = game.env_array(filler, room);
        move || Said::new(lists())
    }

    /// An empty list with room for `list.len()` events a round.
    fn new(list: Window<E>) -> Said<E> {
        Said {
            first: 0,
            len: 0,
            list,
        }
    }

    /// Empties the list for a new round.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Adds the event of `utterance`, which must follow the last event's.
    ///
    /// # Panics
    /// If it does not: the game said another utterance between two events; or if the round has
    /// more events than the game gave room for (both bugs in the game).
    #[inline]
    pub(crate) fn push(&mut self, utterance: UtteranceId, event: E) {
        if self.len == 0 {
            self.first = utterance.0;
        }
        assert_eq!(
            utterance.0,
            self.first + self.len as u64,
            "events are said in a row"
        );
        let room = self.list.len();
        assert!(
            self.len < room,
            "a round has more events than its room of {room}"
        );
        self.list[self.len] = event;
        self.len += 1;
    }

    /// The events, in the order they were said.
    pub(crate) fn events(&self) -> &[E] {
        &self.list[..self.len]
    }

    /// Each event with the id of its utterance.
    pub(crate) fn said(&self) -> impl Iterator<Item = (UtteranceId, &E)> {
        (self.first..).map(UtteranceId).zip(self.events())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_events_get_their_utterances_ids_back_round_after_round() {
        let mut said = Said::new(Window::split(0u8, 3, 1).remove(0));
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
        let mut said = Said::new(Window::split((), 3, 1).remove(0));
        said.push(UtteranceId(4), ());
        said.push(UtteranceId(6), ());
    }

    #[test]
    #[should_panic(expected = "a round has more events than its room of 2")]
    fn an_event_past_the_room_the_game_gave_is_a_bug_caught_where_it_is_made() {
        let mut said = Said::new(Window::split((), 2, 1).remove(0));
        for u in 0..3 {
            said.push(UtteranceId(u), ());
        }
    }
}
