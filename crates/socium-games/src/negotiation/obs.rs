//! Who speaks next, which acts are legal, and what each agent sees: its own values and goal, the
//! standing offer, what the partner claimed and did, and as much of the partner's profile as the
//! relationship of their tie shows (Sotopia's rule, [`Visible`]).

use super::{
    Agreement, Goods, NegotiationConfig, OFFER_POTENTIAL,
    acts::{self, KINDS, index},
    items::{self, ALLOCATIONS, ITEMS},
    play::{State, Table},
    social::{self, DECISION_STYLES, MAX_FACTS, Visible},
};
use bevy_ecs::prelude::*;
use socium_core::{ActionMasks, AgentId, Observations, Potentials, SocialGraph, Turn};

/// The observation row, every entry in [0, 1]: each constant is a block's first entry, the
/// next block starts where it ends.
pub mod layout {
    use super::{ITEMS, KINDS, MAX_FACTS};
    /// Own value of one item of each type, / 10 (3).
    pub const VALUES: usize = 0;
    /// Items of each type on the table, / 4 (3).
    pub const COUNTS: usize = VALUES + ITEMS;
    /// Own reservation value, / 10.
    pub const RESERVATION: usize = COUNTS + ITEMS;
    /// Own goal's target score, / 10.
    pub const TARGET: usize = RESERVATION + 1;
    /// 1 when the own goal includes keeping the relationship.
    pub const KEEP_RELATIONSHIP: usize = TARGET + 1;
    /// 1 while negotiating (seated at a table that is not over).
    pub const SEATED: usize = KEEP_RELATIONSHIP + 1;
    /// 1 when this agent acts at the coming step: in its turn, or, under Deal or No Deal's
    /// protocol, once the talk is over (either side's last act `accept`), when both select.
    pub const MY_TURN: usize = SEATED + 1;
    /// 1 for the pair's first speaker.
    pub const FIRST: usize = MY_TURN + 1;
    /// Utterances so far / `max_turns`.
    pub const TIME: usize = FIRST + 1;
    /// Own and partner's discount factor (2).
    pub const DISCOUNT: usize = TIME + 1;
    /// The tie's relationship kind, one-hot: stranger .. family (6).
    pub const RELATIONSHIP: usize = DISCOUNT + 2;
    /// The tie's weight, clamped to [−5, 5] and mapped onto [0, 1].
    pub const TIE_WEIGHT: usize = RELATIONSHIP + 6;
    /// Which parts of the partner's profile are visible: name, background, personality (3).
    pub const SEEN: usize = TIE_WEIGHT + 1;
    /// The partner's name, as a code of the text (0 when not visible).
    pub const NAME: usize = SEEN + 3;
    /// The partner's age / 100.
    pub const AGE: usize = NAME + 1;
    /// The partner's occupation, as a code.
    pub const OCCUPATION: usize = AGE + 1;
    /// The partner's values, as a code.
    pub const VALUES_CODE: usize = OCCUPATION + 1;
    /// The partner's decision-making style, one-hot (4).
    pub const STYLE: usize = VALUES_CODE + 1;
    /// The partner's Big Five (5).
    pub const BIG_FIVE: usize = STYLE + 4;
    /// 1 for each item type whose value the partner has claimed (3).
    pub const CLAIMED: usize = BIG_FIVE + 5;
    /// The partner's claimed values / 10 (3).
    pub const CLAIMS: usize = CLAIMED + ITEMS;
    /// 1 when an offer stands.
    pub const OFFER: usize = CLAIMS + ITEMS;
    /// 1 when the standing offer is this agent's.
    pub const OFFER_MINE: usize = OFFER + 1;
    /// What this agent takes under the standing offer, / 4 (3).
    pub const OFFER_TAKE: usize = OFFER_MINE + 1;
    /// What the standing offer is worth to this agent, / 10.
    pub const OFFER_WORTH: usize = OFFER_TAKE + ITEMS;
    /// This agent's share of a divisible good under the standing offer.
    pub const OFFER_SHARE: usize = OFFER_WORTH + 1;
    /// This agent's last act, one-hot over the kinds (13).
    pub const MY_LAST: usize = OFFER_SHARE + 1;
    /// The partner's last act, one-hot over the kinds (13).
    pub const PARTNER_LAST: usize = MY_LAST + KINDS.len();
    /// Consecutive passes / 3.
    pub const PASSES: usize = PARTNER_LAST + KINDS.len();
    /// 1 when the partner asked and has had no answer.
    pub const ASKED: usize = PASSES + 1;
    /// 1 for each fact this agent knows (3).
    pub const FACTS: usize = ASKED + 1;
    /// Entries.
    pub const DIM: usize = FACTS + MAX_FACTS;
}

/// Every env: the speakers of the coming step, their legal acts, every agent's row, and the
/// potential `offer`.
pub(super) fn turns_and_observations(
    mut envs: Query<(
        &State,
        &SocialGraph,
        &mut Turn,
        &mut ActionMasks,
        &mut Observations,
        &mut Potentials,
    )>,
) {
    for (state, graph, turn, masks, obs, potentials) in &mut envs {
        let (turn, masks, obs) = (turn.into_inner(), masks.into_inner(), obs.into_inner());
        let potentials = potentials.into_inner();
        for a in (0..state.seat.len()).map(|a| AgentId(a as u32)) {
            turn.set_acting(a, false);
            let row = obs.0.row_mut(a);
            row.fill(0.0);
            let Some((table, side)) = state.table_of(a) else {
                potentials.set(a, OFFER_POTENTIAL, 0.0);
                continue;
            };
            let worth = match (table.over, &table.standing) {
                (true, _) => table.scores[side],
                (false, Some(offer)) => table.worth(&state.config, side, offer),
                (false, None) => 0.0,
            };
            potentials.set(a, OFFER_POTENTIAL, worth);
            observe(state, graph, table, side, row);
            if table.acts(side) {
                turn.set_acting(a, true);
                legal_acts(
                    &state.config,
                    state.profile(a).facts.len(),
                    table,
                    side,
                    masks.0.row_mut(a),
                );
            }
        }
    }
}

/// The acts `side` may make now.
fn legal_acts(
    config: &NegotiationConfig,
    facts: usize,
    table: &Table,
    side: usize,
    mask: &mut [u8],
) {
    mask.fill(0);
    let theirs = table.standing.is_some_and(|o| o.proposer != side);
    if config.agreement == Agreement::Alternating {
        // Rubinstein's protocol: offer (a counter-offer rejects), accept, or leave.
        mask[index::WALK_AWAY] = 1;
        mask[index::ACCEPT] = u8::from(theirs);
        offers(config, table, mask);
        return;
    }
    if table.selecting {
        // Once the talk is over: what to take (an item offer's split) or no agreement.
        mask[index::WALK_AWAY] = 1;
        offers(config, table, mask);
        return;
    }
    for act in [
        index::PASS,
        index::WALK_AWAY,
        index::ASK,
        index::REVEAL_SECRET,
        index::REVEAL_SECRET + 1,
    ] {
        mask[act] = 1;
    }
    mask[index::PERSUADE..index::OFFER].fill(1);
    // Under Deal or No Deal's protocol `accept` ends the talk, which either side may do.
    mask[index::ACCEPT] = u8::from(theirs || config.agreement == Agreement::Selection);
    mask[index::REJECT] = u8::from(theirs);
    for k in 0..facts {
        mask[index::REVEAL_FACT + k] = 1;
        mask[index::REVEAL_FACT + MAX_FACTS + k] = 1;
    }
    if config.goods == Goods::Items {
        mask[index::REVEAL_VALUE..index::REVEAL_FACT].fill(1);
    }
    offers(config, table, mask);
}

/// The offers `table`'s pool allows: the item splits that fit it, or the one share offer.
fn offers(config: &NegotiationConfig, table: &Table, mask: &mut [u8]) {
    match config.goods {
        Goods::Items => {
            for k in 0..ALLOCATIONS {
                mask[index::OFFER + k] = u8::from(table.deal.fits(items::allocation(k)));
            }
        }
        Goods::Divisible => mask[index::OFFER] = 1,
    }
}

fn observe(state: &State, graph: &SocialGraph, table: &Table, side: usize, row: &mut [f32]) {
    use layout::*;
    let config = &state.config;
    let (me, partner) = (table.seats[side], table.seats[1 - side]);
    let goal = state.goal(me);
    for i in 0..ITEMS {
        row[VALUES + i] = f32::from(table.deal.values[side][i]) / 10.0;
        row[COUNTS + i] = f32::from(table.deal.counts[i]) / 4.0;
        if let Some(c) = table.claims[1 - side][i] {
            row[CLAIMED + i] = 1.0;
            row[CLAIMS + i] = f32::from(c) / 10.0;
        }
    }
    row[RESERVATION] = (goal.reservation / 10.0) as f32;
    row[TARGET] = (goal.target / 10.0) as f32;
    row[KEEP_RELATIONSHIP] = f32::from(u8::from(goal.keep_relationship));
    row[SEATED] = f32::from(u8::from(!table.over));
    row[MY_TURN] = f32::from(u8::from(table.acts(side)));
    row[FIRST] = f32::from(u8::from(side == 0));
    row[TIME] = (table.turn as f32 / config.max_turns.get() as f32).min(1.0);
    row[DISCOUNT] = config.discount[side] as f32;
    row[DISCOUNT + 1] = config.discount[1 - side] as f32;
    let tie = graph.tie(me, partner).copied().unwrap_or_default();
    // Relationship kinds are declared stranger .. family, the block's order.
    row[RELATIONSHIP + tie.kind as usize] = 1.0;
    row[TIE_WEIGHT] = (tie.weight.clamp(-5.0, 5.0) + 5.0) / 10.0;
    write_partner(state.profile(partner), Visible::of(tie.kind), row);
    if let Some(offer) = &table.standing {
        row[OFFER] = 1.0;
        row[OFFER_MINE] = f32::from(u8::from(offer.proposer == side));
        row[OFFER_WORTH] = (table.worth(config, side, offer) / 10.0) as f32;
        let take = table.take(side, offer);
        for i in 0..ITEMS {
            row[OFFER_TAKE + i] = f32::from(take[i]) / 4.0;
        }
        if let acts::Proposal::Share(_) = offer.proposal {
            row[OFFER_SHARE] = (table.value(side, offer) / 10.0) as f32;
        }
    }
    // A selection is its maker's alone: the partner's never shows.
    let partners = table.last[1 - side].filter(|m| !matches!(m, acts::Move::Select(_)));
    for (block, last) in [(MY_LAST, table.last[side]), (PARTNER_LAST, partners)] {
        if let Some(m) = last {
            row[block + m.kind_index()] = 1.0;
        }
    }
    row[PASSES] = (table.passes as f32 / 3.0).min(1.0);
    row[ASKED] = f32::from(u8::from(table.asked[1 - side].is_some()));
    for k in 0..state.profile(me).facts.len() {
        row[FACTS + k] = 1.0;
    }
}

/// The partner's profile block: only what the relationship shows; the secret never.
fn write_partner(p: &social::Profile, seen: Visible, row: &mut [f32]) {
    use layout::*;
    if seen.name {
        row[SEEN] = 1.0;
        row[NAME] = social::code(&p.name);
    }
    if seen.background {
        row[SEEN + 1] = 1.0;
        row[AGE] = (f32::from(p.age) / 100.0).min(1.0);
        row[OCCUPATION] = social::code(&p.occupation);
        row[VALUES_CODE] = social::code(&p.values);
        let style = DECISION_STYLES.iter().position(|&s| s == p.decision_style);
        row[STYLE + style.expect("every style is listed")] = 1.0;
    }
    if seen.personality {
        row[SEEN + 2] = 1.0;
        row[BIG_FIVE..BIG_FIVE + 5].copy_from_slice(&p.big_five);
    }
}
