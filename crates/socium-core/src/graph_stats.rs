//! The social graph's structure in numbers (mean and largest degree, clustering, components,
//! assortativity by label) and written out as an edge list: what `[output] graph` adds to a run.

use crate::{AgentId, SocialGraph};
use serde::Serialize;
use std::fmt::Write as _;

/// Structural statistics of a social graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraphStats {
    /// 2 · ties / agents.
    pub mean_degree: f64,
    /// The largest degree (the tail of the degree distribution).
    pub max_degree: usize,
    /// The mean local clustering coefficient (Watts & Strogatz 1998): for each agent, the share of
    /// pairs of its neighbours that are tied; 0 for agents with fewer than two neighbours.
    pub clustering: f64,
    /// Connected components (an isolated agent is one).
    pub components: usize,
    /// Newman's (2003) assortativity of the agents' labels, in [−1, 1]: 1 when ties only join
    /// agents of one label, 0 when labels mix as chance would have them; `None` when undefined
    /// (one label, or no ties).
    pub label_assortativity: Option<f64>,
}

/// The statistics' names, in the order [`GraphStats::values`] gives them.
pub const GRAPH_STATS: [&str; 5] = [
    "mean_degree",
    "max_degree",
    "clustering",
    "components",
    "label_assortativity",
];

impl GraphStats {
    /// The statistics of `graph`, whose agent `a` carries the label `labels[a]`.
    pub fn of(graph: &SocialGraph, labels: &[&str]) -> GraphStats {
        let n = graph.agent_count();
        let mut kinds: Vec<&str> = labels.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        let kind = |a: AgentId| {
            kinds
                .binary_search(&labels[a.index()])
                .expect("a known label")
        };
        if graph.is_complete() {
            // Every pair tied: one component, every neighbourhood complete, and the label mix
            // counted from the labels alone.
            let mut counts = vec![0.0; kinds.len()];
            for a in 0..n {
                counts[kind(AgentId(a as u32))] += 1.0;
            }
            let pairs = n as f64 * (n as f64 - 1.0);
            let same: f64 = counts.iter().map(|c| c * (c - 1.0)).sum::<f64>() / pairs;
            let chance: f64 = counts.iter().map(|c| (c / n as f64).powi(2)).sum();
            return GraphStats {
                mean_degree: n.saturating_sub(1) as f64,
                max_degree: n.saturating_sub(1),
                clustering: if n >= 3 { 1.0 } else { 0.0 },
                components: usize::from(n > 0),
                label_assortativity: (n >= 2 && chance < 1.0)
                    .then(|| (same - chance) / (1.0 - chance)),
            };
        }
        let neighbours = |a: usize| {
            graph
                .neighbours(AgentId(a as u32))
                .as_slice()
                .unwrap_or(&[])
        };
        let mut roots: Vec<usize> = (0..n).collect();
        let find = |roots: &mut Vec<usize>, mut a: usize| {
            while roots[a] != a {
                roots[a] = roots[roots[a]];
                a = roots[a];
            }
            a
        };
        let (mut ends, mut max_degree, mut clustering) = (0usize, 0usize, 0.0);
        let mut mix = vec![0.0; kinds.len() * kinds.len()];
        for a in 0..n {
            let row = neighbours(a);
            ends += row.len();
            max_degree = max_degree.max(row.len());
            for &b in row {
                mix[kind(AgentId(a as u32)) * kinds.len() + kind(b)] += 1.0;
                let (ra, rb) = (find(&mut roots, a), find(&mut roots, b.index()));
                roots[ra.max(rb)] = ra.min(rb);
            }
            if row.len() >= 2 {
                // Ties among the neighbours: each counted once, from its lower end.
                let mut closed = 0usize;
                for (i, &b) in row.iter().enumerate() {
                    let later = &row[i + 1..];
                    closed += (neighbours(b.index()).iter())
                        .filter(|c| later.binary_search(c).is_ok())
                        .count();
                }
                let pairs = row.len() * (row.len() - 1) / 2;
                clustering += closed as f64 / pairs as f64;
            }
        }
        let components = (0..n).filter(|&a| find(&mut roots, a) == a).count();
        let label_assortativity = (ends > 0).then_some(()).and_then(|()| {
            let k = kinds.len();
            let e: Vec<f64> = mix.iter().map(|m| m / ends as f64).collect();
            let same: f64 = (0..k).map(|i| e[i * k + i]).sum();
            let chance: f64 = (0..k)
                .map(|i| (0..k).map(|j| e[i * k + j]).sum::<f64>().powi(2))
                .sum();
            (chance < 1.0).then(|| (same - chance) / (1.0 - chance))
        });
        GraphStats {
            mean_degree: if n == 0 { 0.0 } else { ends as f64 / n as f64 },
            max_degree,
            clustering: if n == 0 { 0.0 } else { clustering / n as f64 },
            components,
            label_assortativity,
        }
    }

    /// The values in the order of [`GRAPH_STATS`] (`None`: undefined).
    pub fn values(&self) -> [Option<f64>; 5] {
        [
            Some(self.mean_degree),
            Some(self.max_degree as f64),
            Some(self.clustering),
            Some(self.components as f64),
            self.label_assortativity,
        ]
    }
}

/// `graph` as an edge list that `[graph] edge_list` reads back: a line `a b relationship weight`
/// per tie, smaller id first, in order.
pub fn edge_list(graph: &SocialGraph) -> String {
    let mut out = String::new();
    for a in (0..graph.agent_count() as u32).map(AgentId) {
        for b in graph.neighbours(a).iter().filter(|b| **b > a) {
            let tie = graph.tie(a, *b).expect("a neighbour is tied");
            let kind = serde_json::to_value(tie.kind).expect("kinds serialise");
            let kind = kind.as_str().expect("a kind is a name");
            writeln!(out, "{} {} {kind} {}", a.0, b.0, tie.weight).expect("writing to a String");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GraphSpec, SimRng, parse_edge_list};

    fn listed(n: usize, ties: &[(u32, u32)]) -> SocialGraph {
        let text: String = ties.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
        listed_from(&text, n)
    }

    #[test]
    fn a_triangle_a_star_and_a_ring() {
        let triangle = GraphStats::of(&listed(3, &[(0, 1), (1, 2), (0, 2)]), &["x"; 3]);
        assert_eq!((triangle.mean_degree, triangle.max_degree), (2.0, 2));
        assert_eq!((triangle.clustering, triangle.components), (1.0, 1));
        assert_eq!(triangle.label_assortativity, None, "one label");
        // A star: the centre labelled apart from its three leaves, every tie across labels.
        let star = GraphStats::of(
            &listed(4, &[(0, 1), (0, 2), (0, 3)]),
            &["hub", "leaf", "leaf", "leaf"],
        );
        assert_eq!((star.mean_degree, star.max_degree), (1.5, 3));
        assert_eq!((star.clustering, star.components), (0.0, 1));
        assert!((star.label_assortativity.unwrap() + 1.0).abs() < 1e-12);
        // A ring of 6 split in two label runs of 3: 4 ties within labels, 2 across.
        let ring = GraphSpec::RingLattice { k: 2 }.generate(6, &mut SimRng::new(0));
        let labels = ["a", "a", "a", "b", "b", "b"];
        let stats = GraphStats::of(&ring, &labels);
        assert_eq!(
            (stats.mean_degree, stats.clustering, stats.components),
            (2.0, 0.0, 1)
        );
        // e_aa = e_bb = 4/12, a_a = a_b = 1/2: r = (2/3 − 1/2) / (1 − 1/2) = 1/3.
        assert!((stats.label_assortativity.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // Two components and an isolated agent.
        let apart = GraphStats::of(&listed(5, &[(0, 1), (2, 3)]), &["x"; 5]);
        assert_eq!(apart.components, 3);
    }

    #[test]
    fn a_complete_graph_agrees_with_its_listed_twin() {
        // Listing every pair makes a complete graph too (both take the shortcut), so the
        // shortcut is checked by hand as well. On K5 labelled a b a c a, counted over the 20 tie
        // ends: e_aa = 6/20, the ends' label shares 12/20, 4/20, 4/20, so Newman's r =
        // (0.3 − 0.44) / (1 − 0.44) = −0.25; every agent's neighbours all tied: clustering 1.
        let labels = ["a", "b", "a", "c", "a"];
        let by_hand = GraphStats::of(
            &GraphSpec::Complete.generate(5, &mut SimRng::new(0)),
            &labels,
        );
        assert_eq!(
            (by_hand.mean_degree, by_hand.clustering, by_hand.components),
            (4.0, 1.0, 1)
        );
        assert!((by_hand.label_assortativity.unwrap() + 0.25).abs() < 1e-12);
        let complete = GraphSpec::Complete.generate(5, &mut SimRng::new(0));
        let pairs: Vec<(u32, u32)> = (0..5)
            .flat_map(|a| (a + 1..5).map(move |b| (a, b)))
            .collect();
        let (implicit, listed) = (
            GraphStats::of(&complete, &labels),
            GraphStats::of(&listed(5, &pairs), &labels),
        );
        assert_eq!(implicit.mean_degree, listed.mean_degree);
        assert_eq!(
            (implicit.clustering, implicit.components),
            (listed.clustering, listed.components)
        );
        let (x, y) = (
            implicit.label_assortativity.unwrap(),
            listed.label_assortativity.unwrap(),
        );
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }

    #[test]
    fn the_edge_list_reads_back_as_the_same_graph() {
        let graph = GraphSpec::WattsStrogatz {
            k: 4,
            p: crate::bounded::Probability::new(0.3).unwrap(),
        }
        .generate(30, &mut SimRng::new(7));
        let text = edge_list(&graph);
        assert_eq!(text.lines().count(), graph.tie_count());
        let again = listed_from(&text, 30);
        assert_eq!(edge_list(&again), text);
    }

    fn listed_from(text: &str, n: usize) -> SocialGraph {
        GraphSpec::EdgeList {
            path: String::new(),
            edges: parse_edge_list(text, n).unwrap(),
        }
        .generate(n, &mut SimRng::new(0))
    }
}
