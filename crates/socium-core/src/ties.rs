//! Ties that form and break (`[ties]`): the social graph moved by what agents do to each other,
//! in any game. After every step, each reward entry on the chosen dimension that one agent's act
//! gave another (the entry's agent is not the act's speaker) moves the tie between them: a cost
//! weakens it, a benefit strengthens it; a tie whose weight falls below `cut_below` is cut. When
//! an episode ends,
//! each agent ties itself to a random friend of a random friend with probability `closure`
//! (triadic closure; Granovetter 1973). No agent gains a tie beyond `budget`. The graph changes
//! for the coming step and keeps its changes across resets that continue the random streams; a
//! seeded reset draws it afresh.

use crate::{AgentId, DimId, Done, RewardLedger, SimRng, SocialGraph, Stepping, Tie, Utterances};
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
}

impl TieRules {
    /// Whether `a` may gain a tie, with `pending` ties already granted this step.
    fn has_room(&self, graph: &SocialGraph, a: AgentId, pending: &[u32]) -> bool {
        self.budget
            .is_none_or(|b| graph.degree(a) + (pending[a.index()] as usize) < b)
    }
}

/// Moves every stepping env's ties by its step's reward entries, and closes triads at an
/// episode's end (a kernel system, after the rewards are summed and before `Observe`).
pub(crate) fn move_ties(
    rules: Res<TieRules>,
    mut envs: Query<
        (
            &Utterances,
            &RewardLedger,
            &Done,
            &mut SimRng,
            &mut SocialGraph,
        ),
        Stepping,
    >,
) {
    for (utterances, ledger, done, rng, graph) in &mut envs {
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
        if over && rules.closure > 0.0 {
            let mut pending = vec![0u32; n];
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
                let fresh = c != a
                    && graph.tie(a, c).is_none()
                    && !join
                        .iter()
                        .any(|&(x, y, _)| (x, y) == (a, c) || (x, y) == (c, a));
                if fresh && rules.has_room(graph, a, &pending) && rules.has_room(graph, c, &pending)
                {
                    pending[a.index()] += 1;
                    pending[c.index()] += 1;
                    join.push((a, c, Tie::default()));
                }
            }
        }
        graph.rewire(&cut, &join);
    }
}
