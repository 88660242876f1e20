//! The acts of a negotiation and their numbering in the action space.
//!
//! A move is typed ([`Move`]); scripted strategies produce it directly, and trainers, policies
//! and random agents send the index of a discrete act ([`decode`]), with the offered share beside
//! it when the good is divisible. Indices: see [`index`].

use super::items::{self, ALLOCATIONS, ITEMS, Triple};
use super::social::MAX_FACTS;

/// A persuasion appeal (Cialdini's reciprocity and liking, and coercion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appeal {
    /// "I gave you something; give me something."
    Reciprocity,
    /// Praise of the partner.
    Flattery,
    /// "Agree or else."
    Threat,
}

/// An offer: what the proposer keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Proposal {
    /// Items: how many of each type the proposer keeps (the partner takes the rest).
    Items(Triple),
    /// A divisible good: the proposer's share, in [0, 1].
    Share(f64),
}

/// One move of a negotiator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Move {
    /// Say nothing.
    Pass,
    /// Accept the partner's standing offer: the deal is done.
    Accept,
    /// Reject the partner's standing offer: it is off the table.
    Reject,
    /// Leave without a deal.
    WalkAway,
    /// Ask the partner what things are worth to them.
    Ask,
    /// Tell what one item of a type is worth to oneself (truly or not).
    RevealValue {
        /// The item type.
        item: u8,
        /// Whether the told value is the true one.
        truthful: bool,
    },
    /// Tell one of one's facts (or a made-up version of it).
    RevealFact {
        /// The fact's index in the profile.
        fact: u8,
        /// Whether it is the fact as it is.
        truthful: bool,
    },
    /// Tell one's secret (or a made-up one).
    RevealSecret {
        /// Whether it is the real secret.
        truthful: bool,
    },
    /// Appeal to the partner.
    Persuade(Appeal),
    /// Build (`warm`) or harm rapport.
    Rapport {
        /// Warm or cold.
        warm: bool,
    },
    /// Make an offer; it stands until accepted, rejected or replaced.
    Offer(Proposal),
    /// Once the talk is over ([`super::Agreement::Selection`]): what one takes, privately
    /// (`None`: no agreement). Sent as the offer act of the same split, or `walk_away`.
    Select(Option<Triple>),
}

/// The utterance kinds, in the order of the observation's last-act blocks.
pub const KINDS: [&str; 13] = [
    "pass",
    "accept",
    "reject",
    "walk_away",
    "ask",
    "reveal_value",
    "reveal_fact",
    "reveal_secret",
    "reciprocity",
    "flattery",
    "threat",
    "rapport",
    "offer",
];

impl Move {
    /// The utterance kind: one of [`KINDS`], or `select`.
    pub fn kind(self) -> &'static str {
        match self {
            Move::Select(_) => "select",
            m => KINDS[m.kind_index()],
        }
    }

    /// Its index in [`KINDS`], the observation's last-act blocks: a selection shows as the act
    /// it was sent as (an offer, or a walk-away for no agreement).
    pub fn kind_index(self) -> usize {
        match self {
            Move::Pass => 0,
            Move::Accept => 1,
            Move::Reject => 2,
            Move::WalkAway => 3,
            Move::Ask => 4,
            Move::RevealValue { .. } => 5,
            Move::RevealFact { .. } => 6,
            Move::RevealSecret { .. } => 7,
            Move::Persuade(Appeal::Reciprocity) => 8,
            Move::Persuade(Appeal::Flattery) => 9,
            Move::Persuade(Appeal::Threat) => 10,
            Move::Rapport { .. } => 11,
            Move::Offer(_) | Move::Select(Some(_)) => 12,
            Move::Select(None) => 3,
        }
    }

    /// What the act `self` means once the talk is over: a selection (an item offer selects its
    /// split, a walk-away no agreement, a selection itself); `None` for any other act.
    pub fn as_selection(self) -> Option<Move> {
        match self {
            Move::Select(keep) => Some(Move::Select(keep)),
            Move::Offer(Proposal::Items(keep)) => Some(Move::Select(Some(keep))),
            Move::WalkAway => Some(Move::Select(None)),
            _ => None,
        }
    }
}

/// Discrete act indices.
pub mod index {
    use super::{ITEMS, MAX_FACTS};
    /// Pass.
    pub const PASS: usize = 0;
    /// Accept.
    pub const ACCEPT: usize = 1;
    /// Reject.
    pub const REJECT: usize = 2;
    /// Walk away.
    pub const WALK_AWAY: usize = 3;
    /// Ask.
    pub const ASK: usize = 4;
    /// Reveal the true value of item type `i`: `REVEAL_VALUE + i`; a false one:
    /// `REVEAL_VALUE + ITEMS + i`.
    pub const REVEAL_VALUE: usize = 5;
    /// Reveal fact `k` truly: `REVEAL_FACT + k`; falsely: `REVEAL_FACT + MAX_FACTS + k`.
    pub const REVEAL_FACT: usize = REVEAL_VALUE + 2 * ITEMS;
    /// Reveal the secret truly (`REVEAL_SECRET`) or falsely (`+ 1`).
    pub const REVEAL_SECRET: usize = REVEAL_FACT + 2 * MAX_FACTS;
    /// Appeals: reciprocity, flattery, threat.
    pub const PERSUADE: usize = REVEAL_SECRET + 2;
    /// Warm rapport (`RAPPORT`) and cold (`+ 1`).
    pub const RAPPORT: usize = PERSUADE + 3;
    /// Offers: the offer-table index (items) or the one share offer (divisible) is added.
    pub const OFFER: usize = RAPPORT + 2;
}

/// Discrete acts: every non-offer act and [`ALLOCATIONS`] item offers, or one share offer.
pub fn count(divisible: bool) -> usize {
    index::OFFER + if divisible { 1 } else { ALLOCATIONS }
}

/// The move of discrete act `act`; `share` is the proposer's share when the good is divisible
/// (`None` for items).
pub fn decode(act: usize, share: Option<f64>) -> Move {
    use index::*;
    let appeals = [Appeal::Reciprocity, Appeal::Flattery, Appeal::Threat];
    match act {
        PASS => Move::Pass,
        ACCEPT => Move::Accept,
        REJECT => Move::Reject,
        WALK_AWAY => Move::WalkAway,
        ASK => Move::Ask,
        a if a < REVEAL_FACT => Move::RevealValue {
            item: ((a - REVEAL_VALUE) % ITEMS) as u8,
            truthful: a - REVEAL_VALUE < ITEMS,
        },
        a if a < REVEAL_SECRET => Move::RevealFact {
            fact: ((a - REVEAL_FACT) % MAX_FACTS) as u8,
            truthful: a - REVEAL_FACT < MAX_FACTS,
        },
        a if a < PERSUADE => Move::RevealSecret {
            truthful: a == REVEAL_SECRET,
        },
        a if a < RAPPORT => Move::Persuade(appeals[a - PERSUADE]),
        a if a < OFFER => Move::Rapport { warm: a == RAPPORT },
        a => Move::Offer(match share {
            None => Proposal::Items(items::allocation(a - OFFER)),
            Some(share) => Proposal::Share(share),
        }),
    }
}

/// The discrete act of `m` (the share of a divisible offer goes beside it).
pub fn encode(m: Move) -> usize {
    use index::*;
    match m {
        Move::Pass => PASS,
        Move::Accept => ACCEPT,
        Move::Reject => REJECT,
        Move::WalkAway => WALK_AWAY,
        Move::Ask => ASK,
        Move::RevealValue { item, truthful } => {
            REVEAL_VALUE + item as usize + if truthful { 0 } else { ITEMS }
        }
        Move::RevealFact { fact, truthful } => {
            REVEAL_FACT + fact as usize + if truthful { 0 } else { MAX_FACTS }
        }
        Move::RevealSecret { truthful } => REVEAL_SECRET + usize::from(!truthful),
        Move::Persuade(appeal) => PERSUADE + appeal as usize,
        Move::Rapport { warm } => RAPPORT + usize::from(!warm),
        Move::Offer(Proposal::Items(keep)) => OFFER + items::allocation_index(keep),
        Move::Offer(Proposal::Share(_)) => OFFER,
        Move::Select(Some(keep)) => OFFER + items::allocation_index(keep),
        Move::Select(None) => WALK_AWAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_act_round_trips() {
        for act in 0..count(false) {
            let m = decode(act, None);
            assert_eq!(encode(m), act, "{m:?}");
        }
        assert_eq!(
            decode(index::OFFER, Some(0.25)),
            Move::Offer(Proposal::Share(0.25))
        );
        assert_eq!(count(true), index::OFFER + 1);
        assert_eq!(
            decode(index::REVEAL_SECRET + 1, None),
            Move::RevealSecret { truthful: false }
        );
        assert!(matches!(
            decode(index::REVEAL_VALUE, None),
            Move::RevealValue { truthful: true, .. }
        ));
    }

    #[test]
    fn a_selection_is_sent_as_its_offer_or_a_walk_away() {
        for act in 0..count(false) {
            let m = decode(act, None);
            match m.as_selection() {
                Some(selection) => {
                    assert_eq!(encode(selection), act, "{m:?}");
                    assert_eq!(selection.kind(), "select");
                    assert_eq!(selection.kind_index(), m.kind_index());
                }
                None => assert!(!matches!(m, Move::Offer(_) | Move::WalkAway), "{m:?}"),
            }
        }
        assert_eq!(Move::Offer(Proposal::Share(0.5)).as_selection(), None);
    }
}
