//! Ties that form and break (`[ties]`): the social graph moved by what agents do to each other,
//! in any game. After every step, each reward entry on the chosen dimension that one agent's act
//! gave another (the entry's agent is not the act's speaker) moves the tie between them: a cost
//! weakens it, a benefit strengthens it; a tie whose weight falls below `cut_below` is cut. When
//! an episode ends,
//! each agent ties itself to a random friend of a random friend with probability `closure`
//! (triadic closure; Granovetter 1973), and, where agents hold values (`[values]`), to a random
//! agent whose value is within `similar_within` of its own with probability `homophily`
//! (McPherson, Smith-Lovin & Cook 2001). No agent gains a tie beyond `budget`. The graph changes
//! for the coming step and keeps its changes across resets that continue the random streams; a
//! seeded reset draws it afresh.

use crate::{
    AgentId, DimId, Done, RewardLedger, SimRng, SocialGraph, Stepping, Tie, Utterances, Values,
};
use bevy_ecs::prelude::*;
use rand::Rng;

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
        ),
        Stepping,
    >,
) {
    for (utterances, ledger, done, rng, graph, values) in &mut envs {
        let (rng, graph) = (rng.into_inner(), graph.into_inner());
        let n = graph.agent_count();
        let (mut cut, mut join) = (Vec::new(), Vec::new());
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
                if !rng.pairing.random_bool(rules.closure) {
                    continue;
                }
                let Some(b) = graph.random_neighbour(a, &mut rng.pairing) else {
                    continue;
                };
                let Some(c) = graph.random_neighbour(b, &mut rng.pairing) else {
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
                if !rng.pairing.random_bool(rules.homophily) {
                    continue;
                }
                let low = sorted.partition_point(|&x| x < v[a] - within);
                let high = sorted.partition_point(|&x| x <= v[a] + within);
                // The window holds `a` itself: draw among the others.
                if high - low < 2 {
                    continue;
                }
                let k = rng.pairing.random_range(low..high - 1);
                let c = order[if k >= rank[a] { k + 1 } else { k }];
                offer(AgentId(a as u32), AgentId(c as u32), &mut join);
            }
        }
        graph.rewire(&cut, &join);
    }
}
