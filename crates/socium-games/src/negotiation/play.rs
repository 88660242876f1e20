//! The rules of play and the seven SOTOPIA-EVAL dimensions (Zhou et al. 2024), computed exactly.
//!
//! Every utterance's effects are raw amounts on a dimension for an agent, against an utterance
//! ([`Effect`]): the utterance itself, or an earlier one it settles (an ask answered, a lie
//! exposed). The reward system adds them to the ledger clipped so that every agent's episode
//! total stays inside Sotopia's range of the dimension ([`super::DIMENSIONS_RANGE`]); the entries
//! still sum to the total. The formulas are in `docs/scenarios.md` (§3.7).

use super::{
    Agreement, BELIEVABILITY, DEAL, DIMENSIONS_RANGE, FINANCIAL, FIRST_SHARE, GOAL, Goods,
    KNOWLEDGE, LIES, NegotiationConfig, OVERALL, PARETO, RELATIONSHIP, SCORE, SECRET, SOCIAL_RULES,
    TURNS,
    acts::{self, Appeal, Move, Proposal},
    items::{self, Deal, ITEM_NAMES, ITEMS, Triple},
    social::{self, Goal, MAX_FACTS, Profile},
};
use bevy_ecs::prelude::*;
use rand::{Rng, seq::SliceRandom};
use socium_core::{
    Act, Actions, AgentId, Audience, Clock, DimId, Done, Metrics, Resetting, RewardLedger, SimRng,
    SocialGraph, Stepping, Texts, Turn, UtteranceId, Utterances,
};
use std::sync::Arc;

/// More consecutive passes than this end a negotiation (Sotopia's idle rule).
pub const PASS_LIMIT: u32 = 2;

/// Bit of `Table::told` / `Table::learned` for item type `i`'s value.
fn value_bit(i: usize) -> u8 {
    1 << i
}
/// Bit for fact `k`.
fn fact_bit(k: usize) -> u8 {
    1 << (ITEMS + k)
}
/// Bit for the secret.
const SECRET_BIT: u8 = 1 << (ITEMS + MAX_FACTS);

/// An offer on the table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Offer {
    /// The side (0 first speaker, 1 second) that made it.
    pub proposer: usize,
    /// What the proposer keeps.
    pub proposal: Proposal,
    /// Offers made before it in this negotiation: a deal on it is discounted by `δ^period`.
    pub period: u32,
}

/// One pair's negotiation. Side 0 speaks first.
#[derive(Clone, Debug)]
pub struct Table {
    /// The agents of side 0 and side 1.
    pub seats: [AgentId; 2],
    /// The items and both sides' values (items goods).
    pub deal: Deal,
    /// Utterances so far.
    pub turn: u32,
    /// The side whose turn it is.
    pub speaker: usize,
    /// Consecutive passes.
    pub passes: u32,
    /// The offer that stands, if any.
    pub standing: Option<Offer>,
    /// Offers made so far.
    pub offers: u32,
    /// Whether the negotiation is over.
    pub over: bool,
    /// Whether the talk is over and both sides now select, at once and privately, what they
    /// take ([`Agreement::Selection`]).
    pub selecting: bool,
    /// What each side selected (`None`: no agreement), once both have.
    pub selections: Option<[Option<Triple>; 2]>,
    /// The deal struck (the accepted offer, or side 0's complementary selection), if any.
    pub agreed: Option<Offer>,
    /// Each side's final score (0..10), once over.
    pub scores: [f64; 2],
    /// What each side has claimed its item values are (truly or not).
    pub claims: [[Option<u8>; ITEMS]; 2],
    /// What each side has truly told of itself (value, fact and secret bits).
    pub told: [u8; 2],
    /// What each side has told falsely (same bits).
    pub lied: [u8; 2],
    /// What each side has truly learned of the other (same bits).
    pub learned: [u8; 2],
    /// Each side's unanswered ask.
    pub asked: [Option<UtteranceId>; 2],
    /// Each side's false reveals, exposed at the end.
    pub lies: [Vec<UtteranceId>; 2],
    /// Each side's last move.
    pub last: [Option<Move>; 2],
    /// Threats, cold rapport and walk-aways of each side (a keep-the-relationship goal's cost).
    pub harm: [u32; 2],
    /// Each side's goal potential (the goal dimension's running total).
    potential: [f64; 2],
    /// The most each side has offered the other, by the other's true values, undiscounted
    /// (for reneging).
    best_given: [Option<f64>; 2],
    /// The value to each side (true, undiscounted) of the first and of the best offer it was
    /// made: how far the other side has conceded.
    pub offers_made_to: [Option<(f64, f64)>; 2],
}

impl Table {
    /// A negotiation between `seats` (side 0 speaks first) over `deal`, before any utterance.
    pub fn new(seats: [AgentId; 2], deal: Deal) -> Self {
        Table {
            seats,
            deal,
            turn: 0,
            speaker: 0,
            passes: 0,
            standing: None,
            offers: 0,
            over: false,
            selecting: false,
            selections: None,
            agreed: None,
            scores: [0.0; 2],
            claims: [[None; ITEMS]; 2],
            told: [0; 2],
            lied: [0; 2],
            learned: [0; 2],
            asked: [None; 2],
            lies: [Vec::new(), Vec::new()],
            last: [None; 2],
            harm: [0; 2],
            potential: [0.0; 2],
            best_given: [None; 2],
            offers_made_to: [None; 2],
        }
    }

    /// Whether `side` acts at the coming step: in turn while talking, both while selecting.
    pub fn acts(&self, side: usize) -> bool {
        !self.over && (self.selecting || self.speaker == side)
    }

    /// The side of `a`, who sits at this table.
    pub fn side_of(&self, a: AgentId) -> usize {
        usize::from(self.seats[1] == a)
    }

    /// What `side` takes under `offer`: the items it keeps or gets (items goods).
    pub fn take(&self, side: usize, offer: &Offer) -> Triple {
        match offer.proposal {
            Proposal::Items(keep) if side == offer.proposer => keep,
            Proposal::Items(keep) => self.deal.rest(keep),
            Proposal::Share(_) => [0; ITEMS],
        }
    }

    /// What `offer` gives `side`, in worth 0..10 by its true values, undiscounted.
    pub fn value(&self, side: usize, offer: &Offer) -> f64 {
        match offer.proposal {
            Proposal::Items(_) => f64::from(self.deal.worth(side, self.take(side, offer))),
            Proposal::Share(s) if side == offer.proposer => 10.0 * s,
            Proposal::Share(s) => 10.0 * (1.0 - s),
        }
    }

    /// What `side` gets from `offer` if it is accepted: its [`Table::value`] discounted by
    /// `δ^period`.
    pub fn worth(&self, config: &NegotiationConfig, side: usize, offer: &Offer) -> f64 {
        self.value(side, offer) * config.discount[side].powi(offer.period as i32)
    }

    /// The false value a liar claims for an item it values at `v`: worthless (0) if it values
    /// it, 5 if it does not.
    pub fn false_value(v: u8) -> u8 {
        if v > 0 { 0 } else { 5 }
    }
}

/// A raw amount on one dimension for one agent, against an utterance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Effect {
    /// Who.
    pub agent: AgentId,
    /// The utterance it is credited to.
    pub utterance: UtteranceId,
    /// The dimension.
    pub dimension: DimId,
    /// The amount, before clipping to the dimension's range.
    pub amount: f64,
}

/// The game's state in one env.
#[derive(Component, Clone, Debug)]
pub struct State {
    /// The settings, one copy for every env of the World: with the profiles' and the setting's
    /// text, a copy an env was scattered allocations a sweep of the envs missed at every read.
    pub config: Arc<NegotiationConfig>,
    /// This episode's negotiations.
    pub tables: Vec<Table>,
    /// Each agent's table and side, if seated this episode.
    pub seat: Vec<Option<(u32, u8)>>,
    /// Moves scripted strategies chose this step (others come from action rows).
    pub moves: Vec<Option<Move>>,
    /// Each agent's running total of each dimension this episode.
    pub totals: Vec<[f64; 7]>,
}

impl State {
    pub(super) fn new(config: NegotiationConfig, agents: usize) -> Self {
        State {
            config: Arc::new(config),
            tables: Vec::new(),
            seat: vec![None; agents],
            moves: vec![None; agents],
            totals: vec![[0.0; 7]; agents],
        }
    }

    /// Agent `a`'s profile.
    pub fn profile(&self, a: AgentId) -> &Profile {
        self.config.profile(a)
    }

    /// Agent `a`'s goal.
    pub fn goal(&self, a: AgentId) -> &Goal {
        self.config.goal(a)
    }

    /// Agent `a`'s table and side, if seated.
    pub fn table_of(&self, a: AgentId) -> Option<(&Table, usize)> {
        let (t, side) = self.seat[a.index()]?;
        Some((&self.tables[t as usize], side as usize))
    }
}

/// What happened at a step, for the reward and record systems.
#[derive(Component, Debug, Default)]
pub struct Events {
    effects: Vec<Effect>,
    /// Tables that ended this step.
    ended: Vec<usize>,
    /// Whether the last negotiation of the episode ended this step.
    all_over: bool,
}

/// Goal completion 0..10 of a score `v` for `goal`, less 2 for each harmful act when the goal
/// includes keeping the relationship.
pub fn goal_score(v: f64, goal: &Goal, harm: u32) -> f64 {
    let met = 10.0 * (v / goal.target).min(1.0);
    let cost = if goal.keep_relationship {
        2.0 * f64::from(harm)
    } else {
        0.0
    };
    (met - cost).clamp(0.0, 10.0)
}

/// Pairs agents over the graph's ties and deals each pair its goods.
pub(super) fn reset(
    mut envs: Query<(&mut State, &mut SimRng, &SocialGraph, &mut Done), Resetting>,
) {
    for (state, rng, graph, done) in &mut envs {
        reset_env(
            state.into_inner(),
            rng.into_inner(),
            graph,
            done.into_inner(),
        );
    }
}

fn reset_env(state: &mut State, rng: &mut SimRng, graph: &SocialGraph, done: &mut Done) {
    let n = state.seat.len();
    state.tables.clear();
    state.seat.fill(None);
    state.moves.fill(None);
    state.totals.fill([0.0; 7]);
    // A random maximal matching over the ties: agents in random order, each paired with a
    // uniformly random unpaired neighbour.
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut rng.chance);
    let mut free: Vec<AgentId> = Vec::new();
    for a in order.into_iter().map(AgentId) {
        if state.seat[a.index()].is_some() {
            continue;
        }
        free.clear();
        free.extend(
            graph
                .neighbours(a)
                .iter()
                .filter(|b| state.seat[b.index()].is_none()),
        );
        let Some(&b) = free.get(rng.chance.random_range(0..free.len().max(1))) else {
            done.terminate(a);
            continue;
        };
        let seats = if rng.chance.random_bool(0.5) {
            [a, b]
        } else {
            [b, a]
        };
        let t = state.tables.len() as u32;
        for (side, s) in seats.iter().enumerate() {
            state.seat[s.index()] = Some((t, side as u8));
        }
        let deal = match state.config.goods {
            Goods::Items => items::draw(&mut rng.chance),
            Goods::Divisible => Deal::default(),
        };
        state.tables.push(Table::new(seats, deal));
    }
    if state.tables.is_empty() {
        done.terminate_all();
    }
}

/// The per-env context of applying a move.
struct Ctx<'a> {
    config: &'a NegotiationConfig,
    profiles: [&'a Profile; 2],
    goals: [&'a Goal; 2],
    /// How much one act moves the relationship on this tie.
    scale: f64,
    /// Whether every agent has a profile of its own (else transcripts add the agent's id to
    /// its name).
    unique_names: bool,
    /// Whether the scenario's step limit ends the episode after this step: the talk ends here
    /// as at `max_turns`, each side with the deal or its reservation.
    last_step: bool,
}

impl<'a> Ctx<'a> {
    /// The context of the table of `seats` in an env of `agents` agents.
    fn of(
        config: &'a NegotiationConfig,
        agents: usize,
        graph: &SocialGraph,
        seats: [AgentId; 2],
        last_step: bool,
    ) -> Self {
        let kind = graph.tie(seats[0], seats[1]).map(|t| t.kind);
        Ctx {
            config,
            profiles: seats.map(|s| config.profile(s)),
            goals: seats.map(|s| config.goal(s)),
            scale: social::tie_scale(kind.unwrap_or_default()),
            unique_names: agents <= config.profiles.len(),
            last_step,
        }
    }
}

/// Agent `a`'s move this step: its strategy's, else its action row's.
fn move_of(moves: &mut [Option<Move>], actions: &Actions, a: AgentId, divisible: bool) -> Move {
    moves[a.index()].take().unwrap_or_else(|| {
        let row = actions.0.row(a);
        acts::decode(row[0] as usize, divisible.then(|| f64::from(row[1])))
    })
}

/// Applies every seated speaker's move.
#[allow(clippy::type_complexity)]
pub(super) fn resolve(
    mut envs: Query<
        (
            &Clock,
            &mut State,
            &Turn,
            &Actions,
            &Texts,
            &SocialGraph,
            &mut Utterances,
            &mut Events,
            &mut Done,
        ),
        Stepping,
    >,
) {
    for (clock, state, turn, actions, texts, graph, utterances, events, done) in &mut envs {
        resolve_env(
            clock,
            state.into_inner(),
            turn,
            actions,
            texts,
            graph,
            utterances.into_inner(),
            events.into_inner(),
            done.into_inner(),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_env(
    clock: &Clock,
    state: &mut State,
    turn: &Turn,
    actions: &Actions,
    texts: &Texts,
    graph: &SocialGraph,
    utterances: &mut Utterances,
    events: &mut Events,
    done: &mut Done,
) {
    events.effects.clear();
    events.ended.clear();
    events.all_over = false;
    let divisible = state.config.goods == Goods::Divisible;
    let last_step = done.is_last_step(clock.step());
    let mut tables = std::mem::take(&mut state.tables);
    for (t, table) in tables.iter_mut().enumerate() {
        let a = table.seats[table.speaker];
        if !table.acts(table.speaker) || !turn.is_acting(a) {
            continue;
        }
        let ctx = Ctx::of(
            &state.config,
            state.seat.len(),
            graph,
            table.seats,
            last_step,
        );
        if table.selecting {
            // Both sides select at this step, neither seeing the other's selection first.
            let picks = table.seats.map(|s| {
                let m = move_of(&mut state.moves, actions, s, false);
                m.as_selection().unwrap_or_else(|| {
                    panic!("{m:?}: only selections are legal once the talk is over")
                })
            });
            let words = table.seats.map(|s| texts.get(s));
            select(table, picks, &ctx, words, utterances, &mut events.effects);
        } else {
            let m = move_of(&mut state.moves, actions, a, divisible);
            apply(
                table,
                m,
                &ctx,
                texts.get(a),
                utterances,
                &mut events.effects,
            );
        }
        if table.over {
            events.ended.push(t);
            table.seats.iter().for_each(|&s| done.terminate(s));
        }
    }
    state.tables = tables;
    if !events.ended.is_empty() && state.tables.iter().all(|t| t.over) {
        events.all_over = true;
        done.terminate_all();
    }
}

/// Notes an effect: `note(agent, dimension, amount, utterance)`.
fn noter(effects: &mut Vec<Effect>) -> impl FnMut(AgentId, DimId, f64, UtteranceId) + '_ {
    |agent, dimension, amount, utterance| {
        effects.push(Effect {
            agent,
            utterance,
            dimension,
            amount,
        })
    }
}

/// Applies `m`, the move of the side whose turn it is, and notes its effects.
fn apply(
    table: &mut Table,
    m: Move,
    ctx: &Ctx,
    words: Option<&str>,
    utterances: &mut Utterances,
    effects: &mut Vec<Effect>,
) {
    let (me, other) = (table.speaker, 1 - table.speaker);
    let (a, b) = (table.seats[me], table.seats[other]);
    let value = act_value(table, m);
    let act = Act {
        kind: m.kind(),
        target: Some(b),
        value,
    };
    let u = match words {
        Some(w) => utterances.say_words(a, Audience::Agent(b), act, w.to_owned()),
        None => utterances.say(a, Audience::Agent(b), act, || render(table, m, ctx)),
    };
    let mut note = noter(effects);
    // Believability: the first utterance sets it at 10; repeating one's last move costs 1.
    if table.last[me].is_none() {
        note(a, BELIEVABILITY, 10.0, u);
    } else if table.last[me] == Some(m) && m != Move::Pass {
        note(a, BELIEVABILITY, -1.0, u);
    }
    let scale = ctx.scale;
    // An offer or acceptance worth less to the speaker than walking away is not believable.
    let below_reservation = |table: &Table, offer: &Offer| {
        table.worth(ctx.config, me, offer) < ctx.goals[me].reservation
    };
    let mut ends = false;
    match m {
        Move::Pass => {}
        Move::Accept => {
            match ctx.config.agreement {
                Agreement::Accept | Agreement::Alternating => {
                    let offer = table
                        .standing
                        .expect("accept is legal only on a standing offer");
                    table.agreed = Some(offer);
                    for side in 0..2 {
                        note(
                            table.seats[side],
                            FINANCIAL,
                            financial(table, ctx, side, &offer),
                            u,
                        );
                    }
                    ends = true;
                }
                // The talk is over: the selections, at the next step, decide (unless the
                // scenario's step limit ends the episode now).
                Agreement::Selection => table.selecting = !ctx.last_step,
            }
            if table.standing.is_some_and(|o| below_reservation(table, &o)) {
                note(a, BELIEVABILITY, -1.0, u);
            }
            note(a, RELATIONSHIP, 0.5 * scale, u);
        }
        Move::Reject => table.standing = None,
        Move::WalkAway => {
            table.harm[me] += 1;
            note(a, RELATIONSHIP, -scale, u);
            ends = true;
        }
        Move::Ask => table.asked[me] = Some(u),
        Move::RevealValue { item, truthful } => {
            let i = item as usize;
            let v = table.deal.values[me][i];
            let claimed = if truthful { v } else { Table::false_value(v) };
            if table.claims[me][i].is_some_and(|c| c != claimed) {
                note(a, BELIEVABILITY, -2.0, u);
            }
            table.claims[me][i] = Some(claimed);
            if reveal(table, me, value_bit(i), truthful, 1.0, u, &mut note) {
                learn(table, value_bit(i), 1.0, u, &mut note);
            }
        }
        Move::RevealFact { fact, truthful } => {
            let importance = ctx.profiles[me].facts[fact as usize].importance;
            let bit = fact_bit(fact as usize);
            contradiction(table, me, bit, truthful, u, &mut note);
            if reveal(table, me, bit, truthful, 0.0, u, &mut note) {
                learn(table, bit, f64::from(importance), u, &mut note);
            }
        }
        Move::RevealSecret { truthful } => {
            contradiction(table, me, SECRET_BIT, truthful, u, &mut note);
            let severity = f64::from(ctx.profiles[me].secret.severity);
            if reveal(table, me, SECRET_BIT, truthful, severity, u, &mut note) {
                learn(table, SECRET_BIT, 2.0, u, &mut note);
            }
        }
        Move::Persuade(Appeal::Reciprocity) => {}
        Move::Persuade(Appeal::Flattery) => note(a, RELATIONSHIP, 0.5 * scale, u),
        Move::Persuade(Appeal::Threat) => {
            table.harm[me] += 1;
            note(a, SOCIAL_RULES, -2.0, u);
            note(a, RELATIONSHIP, -scale, u);
        }
        Move::Rapport { warm } => {
            if !warm {
                table.harm[me] += 1;
            }
            note(a, RELATIONSHIP, if warm { scale } else { -scale }, u);
        }
        Move::Select(_) => unreachable!("a selection is made by both sides at once (select)"),
        Move::Offer(proposal) => {
            let offer = Offer {
                proposer: me,
                proposal,
                period: table.offers,
            };
            let given = table.value(other, &offer);
            if table.best_given[me].is_some_and(|best| given < best - 1e-9) {
                note(a, SOCIAL_RULES, -1.0, u);
            }
            table.best_given[me] = Some(table.best_given[me].map_or(given, |b| b.max(given)));
            let made = &mut table.offers_made_to[other];
            *made = Some(match *made {
                None => (given, given),
                Some((first, best)) => (first, best.max(given)),
            });
            if below_reservation(table, &offer) {
                note(a, BELIEVABILITY, -1.0, u);
            }
            table.standing = Some(offer);
            table.offers += 1;
        }
    }
    table.passes = if m == Move::Pass { table.passes + 1 } else { 0 };
    table.last[me] = Some(m);
    table.turn += 1;
    table.speaker = other;
    let talk_ends = ends
        || table.passes > PASS_LIMIT
        || table.turn >= ctx.config.max_turns.get()
        || ctx.last_step;
    if talk_ends && !table.selecting {
        end(table, ctx, u, &mut note);
    }
    move_goals(table, ctx, [u, u], &mut note);
}

/// Both sides' private selections once the talk is over (Deal or No Deal, Lewis et al. 2017):
/// selections complementary for every item make the deal, anything else none. Each is said
/// to its maker alone; a side's financial and goal entries go against its own selection.
fn select(
    table: &mut Table,
    picks: [Move; 2],
    ctx: &Ctx,
    words: [Option<&str>; 2],
    utterances: &mut Utterances,
    effects: &mut Vec<Effect>,
) {
    let mut note = noter(effects);
    let keeps = picks.map(|m| match m {
        Move::Select(keep) => keep,
        other => unreachable!("{other:?} is not a selection"),
    });
    let said: [UtteranceId; 2] = std::array::from_fn(|side| {
        let (a, m) = (table.seats[side], picks[side]);
        let act = Act {
            kind: m.kind(),
            target: Some(table.seats[1 - side]),
            value: act_value(table, m),
        };
        // An outside agent's words, where it sent some with its selection, else the rendering.
        let u = match words[side] {
            Some(w) => utterances.say_words(a, Audience::Agent(a), act, w.to_owned()),
            None => utterances.say(a, Audience::Agent(a), act, || {
                render_as(table, side, m, ctx)
            }),
        };
        if table.last[side].is_none() {
            note(a, BELIEVABILITY, 10.0, u);
        }
        table.last[side] = Some(m);
        u
    });
    // Worth what the talk's last offer would be worth: discounted by the periods before it.
    let period = table.offers.saturating_sub(1);
    let deal = match keeps {
        [Some(k0), Some(k1)] if table.deal.rest(k0) == k1 => Some(Offer {
            proposer: 0,
            proposal: Proposal::Items(k0),
            period,
        }),
        _ => None,
    };
    for side in 0..2 {
        let a = table.seats[side];
        if let Some(keep) = keeps[side] {
            let mine = Offer {
                proposer: side,
                proposal: Proposal::Items(keep),
                period,
            };
            if table.worth(ctx.config, side, &mine) < ctx.goals[side].reservation {
                note(a, BELIEVABILITY, -1.0, said[side]);
            }
        }
        if let Some(offer) = &deal {
            note(a, FINANCIAL, financial(table, ctx, side, offer), said[side]);
        }
    }
    table.selections = Some(keeps);
    table.agreed = deal;
    table.selecting = false;
    end(table, ctx, said[1], &mut note);
    move_goals(table, ctx, said, &mut note);
}

/// The financial entry of `side` at a deal on `offer`: its gain over its reservation, halved.
fn financial(table: &Table, ctx: &Ctx, side: usize, offer: &Offer) -> f64 {
    (table.worth(ctx.config, side, offer) - ctx.goals[side].reservation) / 2.0
}

/// Ends the negotiation: each side's final score (the deal's worth, else its reservation); a
/// side that never spoke gets its believability against `u`; lies are exposed.
fn end(
    table: &mut Table,
    ctx: &Ctx,
    u: UtteranceId,
    note: &mut dyn FnMut(AgentId, DimId, f64, UtteranceId),
) {
    table.over = true;
    for side in 0..2 {
        table.scores[side] = match &table.agreed {
            Some(offer) => table.worth(ctx.config, side, offer),
            None => ctx.goals[side].reservation,
        };
    }
    // A side that never spoke said nothing unbelievable: its 10 comes with the end.
    for side in 0..2 {
        if table.last[side].is_none() {
            note(table.seats[side], BELIEVABILITY, 10.0, u);
        }
    }
    // Lies come out at the end (both sides' values are shown after the game, as in Lewis et
    // al.'s interface): each costs its teller relationship, against the lie.
    for side in 0..2 {
        for &lie in &table.lies[side] {
            note(table.seats[side], RELATIONSHIP, -2.0 * ctx.scale, lie);
        }
    }
}

/// Goal: each side's potential is the goal's score of the standing offer (the final score once
/// over); its change goes against `said[side]`.
fn move_goals(
    table: &mut Table,
    ctx: &Ctx,
    said: [UtteranceId; 2],
    note: &mut dyn FnMut(AgentId, DimId, f64, UtteranceId),
) {
    for (side, &at) in said.iter().enumerate() {
        let v = match (table.over, &table.standing) {
            (true, _) => table.scores[side],
            (false, Some(offer)) => table.worth(ctx.config, side, offer),
            (false, None) => 0.0,
        };
        let phi = goal_score(v, ctx.goals[side], table.harm[side]);
        let delta = phi - table.potential[side];
        if delta != 0.0 {
            table.potential[side] = phi;
            note(table.seats[side], GOAL, delta, at);
        }
    }
}

/// A reveal by `me` of the thing at `bit`: told truly, it costs `cost` secret points the first
/// time; told falsely, it is a lie (2 social-rules points, exposed at the end). Returns whether
/// it was true.
fn reveal(
    table: &mut Table,
    me: usize,
    bit: u8,
    truthful: bool,
    cost: f64,
    u: UtteranceId,
    note: &mut dyn FnMut(AgentId, DimId, f64, UtteranceId),
) -> bool {
    let a = table.seats[me];
    if !truthful {
        table.lied[me] |= bit;
        table.lies[me].push(u);
        note(a, SOCIAL_RULES, -2.0, u);
    } else {
        if table.told[me] & bit == 0 && cost > 0.0 {
            note(a, SECRET, -cost, u);
        }
        table.told[me] |= bit;
    }
    truthful
}

/// The listener (the side whose turn is next) learns the thing at `bit`, told truly at `u`: if
/// it is new, `amount` knowledge points, credited to its unanswered ask (the ask earned it) or
/// else to the reveal.
fn learn(
    table: &mut Table,
    bit: u8,
    amount: f64,
    u: UtteranceId,
    note: &mut dyn FnMut(AgentId, DimId, f64, UtteranceId),
) {
    let listener = 1 - table.speaker;
    if table.learned[listener] & bit == 0 {
        table.learned[listener] |= bit;
        let credit = table.asked[listener].take().unwrap_or(u);
        note(table.seats[listener], KNOWLEDGE, amount, credit);
    }
}

/// Telling a fact or the secret one way after having told it the other way costs 2
/// believability.
fn contradiction(
    table: &Table,
    me: usize,
    bit: u8,
    truthful: bool,
    u: UtteranceId,
    note: &mut dyn FnMut(AgentId, DimId, f64, UtteranceId),
) {
    let before = if truthful {
        table.lied[me]
    } else {
        table.told[me]
    };
    if before & bit != 0 {
        note(table.seats[me], BELIEVABILITY, -2.0, u);
    }
}

/// The number an utterance of `m` carries: an offer's table index (items) or share
/// (divisible), the accepted offer's, a claimed value, a fact's index, ±1 for rapport.
fn act_value(table: &Table, m: Move) -> f64 {
    let offer_value = |p: Proposal| match p {
        Proposal::Items(keep) => items::allocation_index(keep) as f64,
        Proposal::Share(s) => s,
    };
    match m {
        Move::Offer(p) => offer_value(p),
        Move::Accept => table.standing.map_or(0.0, |o| offer_value(o.proposal)),
        Move::RevealValue { item, truthful } => {
            let v = table.deal.values[table.speaker][item as usize];
            f64::from(if truthful { v } else { Table::false_value(v) })
        }
        Move::Select(Some(keep)) => items::allocation_index(keep) as f64,
        Move::Select(None) => -1.0,
        Move::RevealFact { fact, .. } => f64::from(fact),
        Move::Rapport { warm } => {
            if warm {
                1.0
            } else {
                -1.0
            }
        }
        _ => 0.0,
    }
}

/// The utterance's words: what the listener hears, so a lie reads as a claim like any other (a
/// made-up fact denies the true one). Whether it was true is the rewards' to say (`social_rules`,
/// `knowledge`): the words reach the judge and the attribution model, which must not be told.
fn render(table: &Table, m: Move, ctx: &Ctx) -> String {
    render_as(table, table.speaker, m, ctx)
}

/// The words of `m` said by side `me`.
fn render_as(table: &Table, me: usize, m: Move, ctx: &Ctx) -> String {
    let name = match ctx.unique_names {
        true => ctx.profiles[me].name.clone(),
        false => format!("{} ({})", ctx.profiles[me].name, table.seats[me]),
    };
    let said = match m {
        Move::Pass => return format!("{name} says nothing"),
        Move::WalkAway => return format!("{name} walks away"),
        Move::Select(Some(keep)) => {
            return format!("{name} selects, privately: {}", items::describe(keep));
        }
        Move::Select(None) => return format!("{name} selects, privately: no agreement"),
        Move::Accept => "Deal.".to_owned(),
        Move::Reject => "No, that doesn't work for me.".to_owned(),
        Move::Ask => "What are these worth to you?".to_owned(),
        Move::RevealValue { item, truthful } => {
            let v = table.deal.values[me][item as usize];
            let claimed = if truthful { v } else { Table::false_value(v) };
            format!(
                "A {} is worth {claimed} to me.",
                ITEM_NAMES[item as usize].0
            )
        }
        Move::RevealFact { fact, truthful } => {
            let fact = &ctx.profiles[me].facts[fact as usize];
            match (truthful, &fact.made_up) {
                (true, _) => fact.text.clone(),
                (false, Some(made_up)) => made_up.clone(),
                (false, None) => denied(&fact.text),
            }
        }
        Move::RevealSecret { truthful: true } => ctx.profiles[me].secret.text.clone(),
        Move::RevealSecret { truthful: false } => "I have nothing to hide from you.".to_owned(),
        Move::Persuade(Appeal::Reciprocity) => "I gave ground; now it is your turn.".to_owned(),
        Move::Persuade(Appeal::Flattery) => "You are clearly the reasonable one here.".to_owned(),
        Move::Persuade(Appeal::Threat) => "Agree now, or you will regret it.".to_owned(),
        Move::Rapport { warm: true } => "I am glad we are doing this together.".to_owned(),
        Move::Rapport { warm: false } => "You are wasting my time.".to_owned(),
        Move::Offer(Proposal::Items(keep)) => format!(
            "I take {}; you take {}.",
            items::describe(keep),
            items::describe(table.deal.rest(keep))
        ),
        Move::Offer(Proposal::Share(s)) => format!(
            "I take {:.1}% and you take {:.1}%.",
            100.0 * s,
            100.0 * (1.0 - s)
        ),
    };
    format!("{name}: \"{said}\"")
}

/// A made-up version of the fact `text`, where its profile gives none: its denial.
fn denied(text: &str) -> String {
    let mut chars = text.chars();
    let first = chars.next().map(|c| c.to_lowercase().collect::<String>());
    format!(
        "It is not true that {}{}",
        first.unwrap_or_default(),
        chars.as_str()
    )
}

/// Writes the step's effects into the ledger, clipped to each dimension's range, and moves the
/// weight of the tie of every negotiation that ended by the relationship both sides built.
pub(super) fn reward(
    mut envs: Query<(&mut State, &Events, &mut RewardLedger, &mut SocialGraph), Stepping>,
) {
    for (state, events, ledger, graph) in &mut envs {
        let (state, mut ledger) = (state.into_inner(), ledger.into_inner().writer());
        for e in &events.effects {
            let d = e.dimension.0 as usize;
            let (lo, hi) = DIMENSIONS_RANGE[d];
            let total = &mut state.totals[e.agent.index()][d];
            let amount = (*total + e.amount).clamp(lo, hi) - *total;
            if amount != 0.0 {
                *total += amount;
                ledger.add(e.agent, e.utterance, e.dimension, amount);
            }
        }
        if events.ended.is_empty() {
            continue;
        }
        let graph = graph.into_inner();
        for &t in &events.ended {
            let [a, b] = state.tables[t].seats;
            let built = state.totals[a.index()][RELATIONSHIP.0 as usize]
                + state.totals[b.index()][RELATIONSHIP.0 as usize];
            if let Some(tie) = graph.tie_mut(a, b) {
                tie.weight += (built / 10.0) as f32;
            }
        }
    }
}

/// The episode's metrics, once every negotiation is over.
pub(super) fn record(mut envs: Query<(&State, &Events, &mut Metrics), Stepping>) {
    for (state, events, metrics) in &mut envs {
        if !events.all_over {
            continue;
        }
        let metrics = metrics.into_inner();
        let pairs = state.tables.len() as f64;
        let deals: Vec<&Table> = state.tables.iter().filter(|t| t.agreed.is_some()).collect();
        metrics.record(DEAL, deals.len() as f64 / pairs);
        let scores: f64 = state.tables.iter().map(|t| t.scores[0] + t.scores[1]).sum();
        metrics.record(SCORE, scores / (2.0 * pairs));
        let turns: u32 = state.tables.iter().map(|t| t.turn).sum();
        metrics.record(TURNS, f64::from(turns) / pairs);
        let lies: usize = state
            .tables
            .iter()
            .map(|t| t.lies[0].len() + t.lies[1].len())
            .sum();
        metrics.record(LIES, lies as f64 / pairs);
        let seated = state
            .seat
            .iter()
            .zip(&state.totals)
            .filter(|(s, _)| s.is_some());
        let overall: f64 = seated.map(|(_, t)| t.iter().sum::<f64>() / 7.0).sum();
        metrics.record(OVERALL, overall / (2.0 * pairs));
        if !deals.is_empty() {
            let mean = |f: &dyn Fn(&Table) -> f64| {
                deals.iter().map(|t| f(t)).sum::<f64>() / deals.len() as f64
            };
            match state.config.goods {
                Goods::Items => metrics.record(
                    PARETO,
                    mean(&|t| match &t.agreed {
                        Some(o) => f64::from(u8::from(t.deal.pareto_optimal(t.take(0, o)))),
                        None => 0.0,
                    }),
                ),
                Goods::Divisible => metrics.record(
                    FIRST_SHARE,
                    mean(&|t| t.agreed.as_ref().map_or(0.0, |o| t.value(0, o) / 10.0)),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::denied;

    #[test]
    fn a_fact_without_a_made_up_version_is_denied() {
        assert_eq!(
            denied("The hats are vintage."),
            "It is not true that the hats are vintage."
        );
        assert_eq!(denied(""), "It is not true that ");
    }
}
