//! Ties that form and break (`[ties]`): the social graph moved by what agents do to each other,
//! in any game. After every step, each reward entry on the chosen dimension that one agent's act
//! gave another (the entry's agent is not the act's speaker) moves the tie between them: a cost
//! weakens it, a benefit strengthens it; a tie whose weight falls below `cut_below` is cut. When
//! an episode ends,
//! each agent ties itself to a random friend of a random friend with probability `closure`
//! (triadic closure; Granovetter 1973), and, where agents hold values (`[values]`), to a random
//! agent whose value is within `similar_within` of its own with probability `homophily`
//! (McPherson, Smith-Lovin & Cook 2001). A favour returned across a tie — an act benefiting an
//! agent who had benefited the actor, on the chosen dimension, since its last favour to the
//! actor was returned — brings the two one relationship level closer with probability
//! `reciprocity` (stranger, known by name, acquaintance, friend; Sotopia's levels, which decide
//! what each sees of the other): the norm of reciprocity (Gouldner 1960), by which exchange
//! turns strangers into friends. No agent gains a tie beyond `budget`. The graph changes for the coming step and keeps its changes (and the favours
//! awaiting return) across resets that continue the random streams; a seeded reset draws it
//! afresh and forgets them.

use crate::{
    AgentId, DimId, Done, ResetDue, Resetting, RewardLedger, SimRng, SocialGraph, Stepping, Tie,
    Utterances, Values,
};
use bevy_ecs::prelude::*;
use rand::Rng;
use std::collections::BTreeSet;

/// The tie dynamics of a scenario.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct TieRules {
    /// The reward dimension whose entries move ties.
    pub dimension: DimId,
    /// Weight a tie loses for each act of one end that cost the other.
    pub weaken: f64,
    /// Weight a tie gains for each act of one end that benefited the other.
    pub strengthen: f64,
    /// A tie whose weight falls below this is cut.
    pub cut_below: f64,
    /// Probability, per agent and episode end, of tying to a random friend of a random friend.
    pub closure: f64,
    /// The most ties an agent may gain up to (none when `None`).
    pub budget: Option<usize>,
    /// Probability, per agent and episode end, of tying to a random agent of similar value.
    pub homophily: f64,
    /// How close a value is similar: `|v_a − v_b| ≤ similar_within`.
    pub similar_within: f64,
    /// Probability, per favour returned, that the two grow one relationship level closer.
    pub reciprocity: f64,
}

/// The favours of an env awaiting return, `(giver, receiver)`: kept where relationships grow
/// by reciprocity.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub(crate) struct Favours(pub BTreeSet<(AgentId, AgentId)>);

/// Forgets every favour at a seeded reset, as the graph is drawn afresh (a kernel system).
pub(crate) fn forget_favours(mut envs: Query<(&ResetDue, &mut Favours), Resetting>) {
    for (due, favours) in &mut envs {
        if due.seed.is_some() {
            favours.into_inner().0.clear();
        }
    }
}

impl TieRules {
    /// Whether `a` may gain a tie, with `pending` ties already granted this step.
    fn has_room(&self, graph: &SocialGraph, a: AgentId, pending: &[u32]) -> bool {
        self.budget
            .is_none_or(|b| graph.degree(a) + (pending[a.index()] as usize) < b)
    }
}

/// Moves every stepping env's ties by its step's reward entries, and at an episode's end closes
/// triads and ties similar values (a kernel system, after the rewards are summed and the values
/// have drifted, before `Observe`).
#[allow(clippy::type_complexity)]
pub(crate) fn move_ties(
    rules: Res<TieRules>,
    mut envs: Query<
        (
            &Utterances,
            &RewardLedger,
            &Done,
            &mut SimRng,
            &mut SocialGraph,
            Option<&Values>,
            Option<&mut Favours>,
        ),
        Stepping,
    >,
) {
    for (utterances, ledger, done, rng, graph, values, favours) in &mut envs {
        let (rng, graph) = (rng.into_inner(), graph.into_inner());
        let mut favours = favours.map(Mut::into_inner);
        let n = graph.agent_count();
        let (mut cut, mut join, mut returned) = (Vec::new(), Vec::new(), Vec::new());
        let said = utterances.this_step();
        for e in ledger
            .entries()
            .iter()
            .filter(|e| e.dimension == rules.dimension)
        {
            // Acts of this step only: a settlement of an earlier act has no speaker at hand.
            let Ok(i) = said.binary_search_by_key(&e.utterance, |u| u.id) else {
                continue;
            };
            let (s, a) = (said[i].speaker, e.agent);
            if s == a || e.value == 0.0 {
                continue;
            }
            // A favour between agents with no tie (in a game that ignores the graph) is none.
            if let Some(favours) = favours
                .as_deref_mut()
                .filter(|_| e.value > 0.0 && graph.tie(s, a).is_some())
            {
                match favours.0.remove(&(a, s)) {
                    true => returned.push((s, a)),
                    false => _ = favours.0.insert((s, a)),
                }
            }
            if let Some(tie) = graph.tie_mut(s, a) {
                tie.weight += match e.value < 0.0 {
                    true => -rules.weaken,
                    false => rules.strengthen,
                } as f32;
                if f64::from(tie.weight) < rules.cut_below {
                    cut.push((s, a));
                }
            }
        }
        for (s, a) in returned {
            if rng.chance.random_bool(rules.reciprocity)
                && let Some(tie) = graph.tie_mut(s, a)
            {
                tie.kind = tie.kind.closer();
            }
        }
        let over = (0..n).all(|a| done.is_done(AgentId(a as u32)));
        let mut pending = vec![0u32; n];
        // Ties `a` to `c` if they are two, untied, not joined already, and both have room.
        let mut offer = |a: AgentId, c: AgentId, join: &mut Vec<(AgentId, AgentId, Tie)>| {
            let fresh = c != a
                && graph.tie(a, c).is_none()
                && !join
                    .iter()
                    .any(|&(x, y, _)| (x, y) == (a, c) || (x, y) == (c, a));
            if fresh && rules.has_room(graph, a, &pending) && rules.has_room(graph, c, &pending) {
                pending[a.index()] += 1;
                pending[c.index()] += 1;
                join.push((a, c, Tie::default()));
            }
        };
        if over && rules.closure > 0.0 {
            for a in (0..n as u32).map(AgentId) {
                if !rng.chance.random_bool(rules.closure) {
                    continue;
                }
                let Some(b) = graph.random_neighbour(a, &mut rng.chance) else {
                    continue;
                };
                let Some(c) = graph.random_neighbour(b, &mut rng.chance) else {
                    continue;
                };
                offer(a, c, &mut join);
            }
        }
        if let Some(values) = values.filter(|_| over && rules.homophily > 0.0) {
            // The agents by value (then id), so that each one's similar agents are a window.
            let v = &values.0;
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&x, &y| v[x].total_cmp(&v[y]).then(x.cmp(&y)));
            let sorted: Vec<f64> = order.iter().map(|&i| v[i]).collect();
            let mut rank = vec![0; n];
            for (k, &i) in order.iter().enumerate() {
                rank[i] = k;
            }
            let within = rules.similar_within;
            for a in 0..n {
                if !rng.chance.random_bool(rules.homophily) {
                    continue;
                }
                let low = sorted.partition_point(|&x| x < v[a] - within);
                let high = sorted.partition_point(|&x| x <= v[a] + within);
                // The window holds `a` itself: draw among the others.
                if high - low < 2 {
                    continue;
                }
                let k = rng.chance.random_range(low..high - 1);
                let c = order[if k >= rank[a] { k + 1 } else { k }];
                offer(AgentId(a as u32), AgentId(c as u32), &mut join);
            }
        }
        graph.rewire(&cut, &join);
    }
}
