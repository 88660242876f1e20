//! Scripted negotiators. Each decides from what its seat knows: its own values, reservation and
//! discount, the standing offer, the partner's claims (true or not) and the clock; none reads the
//! partner's private values.
//!
//! - `greedy`: offers the split best for itself, accepts anything at or above its reservation.
//! - `fair`: asks, answers asks truthfully, offers the split closest to equal value (by the
//!   partner's claims, else an even spread of its worth), and accepts near-equal splits,
//!   loosening with time.
//! - `liar`: as `fair`, after a false reveal (its most valuable item is worthless to it).
//! - `boulware` and `conceder`: Faratin, Sierra & Jennings's (1998) time-dependent tactics; at
//!   time `t` of the deadline `T` (the negotiation's last utterance) it demands
//!   `r + (1 − α)(10 − r)` with `α = (t/T)^(1/β)`, so it reaches its reservation at `T`.
//! - `tit_for_tat`: Faratin et al.'s absolute tit-for-tat: concedes as much as the partner has
//!   conceded, on top of a slow linear concession; mirrors warm and cold rapport.
//! - `spe`: Rubinstein's (1982) subgame-perfect player: proposes `(1 − δ_o)/(1 − δ_m δ_o)` of
//!   the good and accepts a share at least `δ_m` times that.
//!
//! Under Deal or No Deal's protocol each accepts as above to end the talk, and then selects the
//! standing offer's split (what it takes) when that is worth its reservation, else no
//! agreement: two scripted players strike the deals they would strike by accepting.

use super::{
    Agreement, Goods, NegotiationConfig,
    acts::{Appeal, Move, Proposal},
    items::{ITEMS, Triple},
    play::{Offer, State, Table},
};
use bevy_ecs::prelude::*;
use socium_core::{ParamInfo, ParamKind, Stepping, Strategies, StrategyInfo, Turn};

strategies! {
    /// The registered strategies.
    pub static STRATEGIES, fn strategy -> Strategy = [
        StrategyInfo {
            name: "greedy",
            summary: "offers the split best for itself; accepts at or above its reservation",
            params: &[],
        } => |_| Strategy::Greedy,
        StrategyInfo {
            name: "fair",
            summary: "asks, answers truthfully, offers the most equal split, accepts near-equal ones",
            params: &[],
        } => |_| Strategy::Fair,
        StrategyInfo {
            name: "liar",
            summary: "claims its most valuable item is worthless, then plays fair",
            params: &[],
        } => |_| Strategy::Liar,
        StrategyInfo {
            name: "boulware",
            summary: "time-dependent concession, late (Faratin et al. 1998)",
            params: &[BETA_BOULWARE],
        } => |c| Strategy::TimeDependent { beta: c.param("beta") },
        StrategyInfo {
            name: "conceder",
            summary: "time-dependent concession, early (Faratin et al. 1998)",
            params: &[BETA_CONCEDER],
        } => |c| Strategy::TimeDependent { beta: c.param("beta") },
        StrategyInfo {
            name: "tit_for_tat",
            summary: "concedes what the partner conceded; mirrors rapport",
            params: &[],
        } => |_| Strategy::TitForTat,
        StrategyInfo {
            name: "spe",
            summary: "Rubinstein's subgame-perfect offers and acceptances (Rubinstein 1982)",
            params: &[],
        } => |_| Strategy::Spe,
    ]
}

const BETA_BOULWARE: ParamInfo = ParamInfo {
    name: "beta",
    summary: "concession exponent β (< 1: boulware)",
    default: 0.2,
    min: 0.01,
    max: 0.99,
    kind: ParamKind::Real,
};

const BETA_CONCEDER: ParamInfo = ParamInfo {
    name: "beta",
    summary: "concession exponent β (> 1: conceder)",
    default: 5.0,
    min: 1.01,
    max: 100.0,
    kind: ParamKind::Real,
};

/// A scripted negotiator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// Best split for itself.
    Greedy,
    /// The most equal split.
    Fair,
    /// One false reveal, then fair.
    Liar,
    /// Faratin's time-dependent tactic with exponent β.
    TimeDependent {
        /// β: below 1 boulware, above 1 conceder.
        beta: f64,
    },
    /// Relative tit-for-tat concession.
    TitForTat,
    /// Rubinstein's subgame-perfect player.
    Spe,
}

/// Every scripted speaker's move, in every stepped env.
pub(super) fn decide(
    strategies: Res<Strategies<Strategy>>,
    mut envs: Query<(&mut State, &Turn), Stepping>,
) {
    for (state, turn) in &mut envs {
        let state = state.into_inner();
        for (a, &strategy) in strategies.iter() {
            if !turn.is_acting(a) {
                continue;
            }
            let (table, side) = state.table_of(a).expect("an acting agent is seated");
            let seat = Seat {
                config: &state.config,
                table,
                side,
                reservation: state.goal(a).reservation,
            };
            state.moves[a.index()] = Some(seat.decide(strategy));
        }
    }
}

/// What one side of a table knows.
struct Seat<'a> {
    config: &'a NegotiationConfig,
    table: &'a Table,
    side: usize,
    reservation: f64,
}

impl Seat<'_> {
    fn other(&self) -> usize {
        1 - self.side
    }

    fn items(&self) -> bool {
        self.config.goods == Goods::Items
    }

    /// Whether acts other than offers and acceptances may be said (not under Rubinstein's
    /// strict alternating offers).
    fn talks(&self) -> bool {
        self.config.agreement != Agreement::Alternating
    }

    /// Time: utterances so far over the deadline (the last utterance), in [0, 1].
    fn progress(&self) -> f64 {
        let last = self.config.max_turns.get().saturating_sub(1).max(1);
        (f64::from(self.table.turn) / f64::from(last)).min(1.0)
    }

    /// What the partner's standing offer is worth to this side, if it accepts it now.
    fn standing_worth(&self) -> Option<f64> {
        let offer = self.table.standing.filter(|o| o.proposer == self.other())?;
        Some(self.table.worth(self.config, self.side, &offer))
    }

    /// The offer of `proposal` if this side made it now.
    fn offer(&self, proposal: Proposal) -> Offer {
        Offer {
            proposer: self.side,
            proposal,
            period: self.table.offers,
        }
    }

    /// What `proposal`, offered now by this side, is worth to it.
    fn mine(&self, proposal: Proposal) -> f64 {
        self.table
            .worth(self.config, self.side, &self.offer(proposal))
    }

    /// The partner's worth of taking `take`, by its claims (true or not), else an even spread of
    /// the worth it has not claimed.
    fn partner_estimate(&self, take: Triple) -> f64 {
        let (counts, claims) = (self.table.deal.counts, self.table.claims[self.other()]);
        let claimed: f64 = (0..ITEMS)
            .filter_map(|i| claims[i].map(|v| f64::from(v) * f64::from(counts[i])))
            .sum();
        let unclaimed: u32 = (0..ITEMS)
            .filter(|&i| claims[i].is_none())
            .map(|i| u32::from(counts[i]))
            .sum();
        let spread = if unclaimed == 0 {
            0.0
        } else {
            (10.0 - claimed).max(0.0) / f64::from(unclaimed)
        };
        (0..ITEMS)
            .map(|i| f64::from(take[i]) * claims[i].map_or(spread, f64::from))
            .sum()
    }

    /// Every item split this side may offer, with its worth to itself and the partner's
    /// estimated worth.
    fn splits(&self) -> Vec<(Proposal, f64, f64)> {
        let deal = &self.table.deal;
        deal.allocations()
            .map(|keep| {
                let p = Proposal::Items(keep);
                (p, self.mine(p), self.partner_estimate(deal.rest(keep)))
            })
            .collect()
    }

    /// The split closest above `target` for itself, best for the partner among those; the
    /// split best for itself when none reaches it.
    fn demand(&self, target: f64) -> Proposal {
        if !self.items() {
            let factor = self.config.discount[self.side].powi(self.table.offers as i32);
            return Proposal::Share((target / (10.0 * factor)).clamp(0.0, 1.0));
        }
        let splits = self.splits();
        let reaching = splits.iter().filter(|s| s.1 >= target - 1e-9);
        let best = reaching.min_by(|x, y| x.1.total_cmp(&y.1).then(y.2.total_cmp(&x.2)));
        best.or_else(|| {
            splits
                .iter()
                .max_by(|x, y| x.1.total_cmp(&y.1).then(x.2.total_cmp(&y.2)))
        })
        .expect("a pool has at least one split")
        .0
    }

    /// The split closest to equal value (then the largest total, then the most for itself).
    fn fair_split(&self) -> Proposal {
        if !self.items() {
            return Proposal::Share(0.5);
        }
        let key = |s: &(Proposal, f64, f64)| (-(s.1 - s.2).abs(), s.1 + s.2, s.1);
        let splits = self.splits();
        splits
            .iter()
            .max_by(|x, y| {
                let (a, b) = (key(x), key(y));
                a.0.total_cmp(&b.0)
                    .then(a.1.total_cmp(&b.1))
                    .then(a.2.total_cmp(&b.2))
            })
            .expect("a pool has at least one split")
            .0
    }

    /// Accept when the partner's offer is worth at least `threshold` (and the reservation),
    /// else offer `counter`.
    fn accept_or(&self, threshold: f64, counter: Proposal) -> Move {
        match self.standing_worth() {
            Some(v) if v >= threshold.max(self.reservation) - 1e-12 => Move::Accept,
            _ => Move::Offer(counter),
        }
    }

    /// Once the talk is over (Deal or No Deal's protocol), every strategy selects alike: the
    /// standing offer's split when it is worth at least its reservation, else no agreement.
    fn select(&self) -> Move {
        let offer = self.table.standing;
        let worth = |o: &Offer| self.table.worth(self.config, self.side, o);
        match offer.filter(|o| worth(o) >= self.reservation - 1e-12) {
            Some(o) => Move::Select(Some(self.table.take(self.side, &o))),
            None => Move::Select(None),
        }
    }

    fn decide(&self, strategy: Strategy) -> Move {
        let (me, table) = (self.side, self.table);
        if table.selecting {
            return self.select();
        }
        match strategy {
            Strategy::Greedy => self.accept_or(self.reservation, self.demand(f64::INFINITY)),
            Strategy::Fair => self.fair(),
            Strategy::Liar => {
                let dearest = (0..ITEMS).max_by_key(|&i| table.deal.values[me][i]);
                match dearest {
                    Some(i) if self.items() && self.talks() && table.lied[me] == 0 => {
                        Move::RevealValue {
                            item: i as u8,
                            truthful: false,
                        }
                    }
                    _ => self.fair(),
                }
            }
            Strategy::TimeDependent { beta } => {
                let alpha = self.progress().powf(1.0 / beta);
                let target = self.reservation + (1.0 - alpha) * (10.0 - self.reservation);
                self.accept_or(target, self.demand(target))
            }
            Strategy::TitForTat => {
                let partner = table.last[self.other()].filter(|_| self.talks());
                let mirrored = matches!(table.last[me], Some(Move::Rapport { .. }));
                match partner {
                    Some(Move::Rapport { warm: true } | Move::Persuade(Appeal::Flattery))
                        if !mirrored =>
                    {
                        return Move::Rapport { warm: true };
                    }
                    Some(Move::Rapport { warm: false } | Move::Persuade(Appeal::Threat))
                        if !mirrored =>
                    {
                        return Move::Rapport { warm: false };
                    }
                    _ => {}
                }
                let conceded = table.offers_made_to[me].map_or(0.0, |(first, best)| best - first);
                let slow = 0.5 * self.progress() * (10.0 - self.reservation);
                let demand = (10.0 - conceded - slow).max(self.reservation);
                self.accept_or(demand, self.demand(demand))
            }
            Strategy::Spe => {
                let (dm, dother) = (self.config.discount[me], self.config.discount[self.other()]);
                let share = match dm * dother {
                    both if both >= 1.0 => 0.5,
                    both => (1.0 - dother) / (1.0 - both),
                };
                match self.items() {
                    true => self.accept_or(10.0 * dm * share, self.demand(10.0 * share)),
                    false => {
                        // The share is compared undiscounted, as Rubinstein's threshold is.
                        let offered = table.standing.filter(|o| o.proposer != me);
                        match offered.map(|o| o.proposal) {
                            Some(Proposal::Share(s)) if 1.0 - s >= dm * share - 1e-12 => {
                                Move::Accept
                            }
                            _ => Move::Offer(Proposal::Share(share)),
                        }
                    }
                }
            }
        }
    }

    fn fair(&self) -> Move {
        let (me, table) = (self.side, self.table);
        if self.items() && self.talks() {
            let unclaimed = (0..ITEMS).find(|&i| table.claims[me][i].is_none());
            if let (Some(_), Some(i)) = (table.asked[self.other()], unclaimed) {
                return Move::RevealValue {
                    item: i as u8,
                    truthful: true,
                };
            }
            if table.last[me].is_none() {
                return Move::Ask;
            }
        }
        let split = self.fair_split();
        let threshold = self.mine(split) - 1.0 - 2.0 * self.progress();
        self.accept_or(threshold, split)
    }
}
