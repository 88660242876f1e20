//! Values that spread (`[values]`), in any game: every agent holds a value in [0, 1] (an opinion,
//! a position on one of Schwartz's value axes) that drifts toward its partners' by bounded
//! confidence, after Deffuant, Neau, Amblard & Weisbuch 2000 ("Mixing beliefs among interacting
//! agents"). After every step, each act aimed at another agent (an utterance with a target: a
//! gift, a move, an offer, a vote) is an encounter of the two: when their values are closer than
//! `confidence`, both move toward each other by `rate` of the gap. Values are drawn uniformly at a
//! seeded reset (from the graph's stream, after the graph) and kept across resets that continue
//! the streams, as the graph is, so they carry over the episodes of a run. [`ValueStats`] measures
//! them: clusters, polarisation, and the distance and assortativity over the graph's ties.

use crate::{AgentId, ResetDue, Resetting, SimRng, SocialGraph, Stepping, Utterances};
use bevy_ecs::prelude::*;
use rand::Rng;
use serde::Serialize;

/// How values drift (`[values]`).
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct ValueRules {
    /// Partners whose values are this far apart or farther do not move each other (ε).
    pub confidence: f64,
    /// The share of the gap each partner moves (μ, in (0, 0.5]).
    pub rate: f64,
}

/// Every agent's value, per env.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct Values(pub Vec<f64>);

/// Draws every agent's value uniformly at a seeded reset (a kernel system after the graph).
pub(crate) fn draw_values(mut envs: Query<(&ResetDue, &mut SimRng, &mut Values), Resetting>) {
    for (due, rng, values) in &mut envs {
        if due.seed.is_some() {
            let rng = &mut rng.into_inner().graph;
            values
                .into_inner()
                .0
                .iter_mut()
                .for_each(|v| *v = rng.random());
        }
    }
}

/// Moves the values of the two ends of every act of the step aimed at another agent, in the
/// order the acts were said (a kernel system, after the step's rewards).
pub(crate) fn drift_values(
    rules: Res<ValueRules>,
    mut envs: Query<(&Utterances, &mut Values), Stepping>,
) {
    for (utterances, values) in &mut envs {
        let values = &mut values.into_inner().0;
        for u in utterances.this_step() {
            let Some(target) = u.act.target.filter(|&t| t != u.speaker) else {
                continue;
            };
            let (s, t) = (u.speaker.index(), target.index());
            let gap = values[t] - values[s];
            if gap.abs() < rules.confidence {
                values[s] += rules.rate * gap;
                values[t] -= rules.rate * gap;
            }
        }
    }
}

/// What a population's values look like.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValueStats {
    /// The mean value.
    pub mean: f64,
    /// Polarisation: 4 × the variance (1 when half sit at 0 and half at 1).
    pub polarisation: f64,
    /// Clusters ([`clusters`], with gap `confidence / 2` and 2% of the agents at least).
    pub clusters: usize,
    /// The mean value distance over the graph's ties ([`tie_distance`]).
    pub tie_distance: f64,
    /// Newman's (2003) assortativity of the values over the ties, in [−1, 1] (the correlation of
    /// the values at the two ends of a tie); `None` without ties or when it is undefined (every
    /// end the same value).
    pub assortativity: Option<f64>,
}

/// The statistics' names, in the order [`ValueStats::values`] gives them (`metrics.csv`).
pub const VALUE_STATS: [&str; 5] = [
    "value_mean",
    "value_polarisation",
    "value_clusters",
    "value_tie_distance",
    "value_assortativity",
];

impl ValueStats {
    /// The statistics of `values` on `graph`, clusters split by gaps over `confidence / 2`.
    pub fn of(values: &[f64], graph: &SocialGraph, confidence: f64) -> ValueStats {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        ValueStats {
            mean,
            polarisation: 4.0 * variance,
            clusters: clusters(values, confidence / 2.0, 0.02),
            tie_distance: tie_distance(values, graph),
            assortativity: assortativity(values, graph),
        }
    }

    /// The statistics as numbers, in [`VALUE_STATS`] order (`None` where undefined).
    pub fn values(&self) -> [Option<f64>; 5] {
        [
            Some(self.mean),
            Some(self.polarisation),
            Some(self.clusters as f64),
            Some(self.tie_distance),
            self.assortativity,
        ]
    }
}

/// Clusters: the runs of sorted values split by gaps larger than `gap`, counting the runs that
/// hold at least `share` of the values (Deffuant et al. count major clusters; a few stragglers
/// between them are not one).
pub fn clusters(values: &[f64], gap: f64, share: f64) -> usize {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let least = (share * sorted.len() as f64).ceil().max(1.0) as usize;
    let mut count = 0;
    let mut run = 0;
    for (i, &x) in sorted.iter().enumerate() {
        if i > 0 && x - sorted[i - 1] > gap {
            count += usize::from(run >= least);
            run = 0;
        }
        run += 1;
    }
    count + usize::from(run >= least)
}

/// The mean `|x_a − x_b|` over the graph's ties (0 without ties). On a complete graph from the
/// sorted values: Σ_k x_(k) · (2k − n + 1) over the pairs, in O(n log n).
pub fn tie_distance(x: &[f64], graph: &SocialGraph) -> f64 {
    let n = x.len();
    if graph.is_complete() {
        if n < 2 {
            return 0.0;
        }
        let mut sorted = x.to_vec();
        sorted.sort_by(f64::total_cmp);
        let sum: f64 = (sorted.iter().enumerate())
            .map(|(k, v)| v * (2.0 * k as f64 - n as f64 + 1.0))
            .sum();
        return sum / (n as f64 * (n as f64 - 1.0) / 2.0);
    }
    let (mut sum, mut ties) = (0.0, 0usize);
    for_each_tie(graph, |a, b| {
        sum += (x[a] - x[b]).abs();
        ties += 1;
    });
    if ties == 0 { 0.0 } else { sum / ties as f64 }
}

/// Newman's scalar assortativity: the Pearson correlation of the values at the two ends of a tie,
/// each tie counted in both directions.
fn assortativity(x: &[f64], graph: &SocialGraph) -> Option<f64> {
    let n = x.len();
    if graph.is_complete() {
        // Over all ordered pairs a ≠ b: the covariance is −var/(n − 1) exactly.
        return (n >= 2 && x.iter().any(|&v| v != x[0])).then(|| -1.0 / (n as f64 - 1.0));
    }
    let (mut ends, mut sum, mut squares, mut products) = (0.0, 0.0, 0.0, 0.0);
    for_each_tie(graph, |a, b| {
        ends += 2.0;
        sum += x[a] + x[b];
        squares += x[a] * x[a] + x[b] * x[b];
        products += 2.0 * x[a] * x[b];
    });
    let mean = sum / ends;
    let variance = squares / ends - mean * mean;
    (ends > 0.0 && variance > 1e-12).then(|| (products / ends - mean * mean) / variance)
}

/// Calls `f(a, b)` once for every tie of a graph whose ties are listed (a < b).
fn for_each_tie(graph: &SocialGraph, mut f: impl FnMut(usize, usize)) {
    for a in 0..graph.agent_count() {
        for &b in graph.neighbours(AgentId(a as u32)).iter() {
            if b.index() > a {
                f(a, b.index());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GraphSpec, parse_edge_list};

    fn graph(spec: GraphSpec) -> SocialGraph {
        spec.generate(4, &mut SimRng::new(1))
    }

    #[test]
    fn clusters_are_runs_split_by_gaps() {
        assert_eq!(clusters(&[0.1, 0.11, 0.5, 0.52, 0.9], 0.05, 0.0), 3);
        assert_eq!(
            clusters(&[0.1, 0.11, 0.5, 0.52, 0.9], 0.05, 0.3),
            2,
            "a lone 0.9 is no cluster"
        );
        assert_eq!(clusters(&[0.3; 10], 0.01, 0.02), 1);
        assert_eq!(clusters(&[0.0, 1.0], 0.5, 0.0), 2);
    }

    #[test]
    fn tie_distance_on_a_complete_graph_and_a_ring() {
        let x = [0.0, 0.25, 1.0, 0.5];
        // Pairs: .25 1 .5 .75 .25 .5 -> 3.25 / 6.
        assert!((tie_distance(&x, &graph(GraphSpec::Complete)) - 3.25 / 6.0).abs() < 1e-12);
        // Ties 0-1, 1-2, 2-3, 3-0: .25 + .75 + .5 + .5 = 2 over 4.
        let ring = graph(GraphSpec::RingLattice { k: 2 });
        assert!((tie_distance(&x, &ring) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn assortativity_on_known_graphs() {
        let x = [0.0, 0.0, 1.0, 1.0];
        // All ordered pairs: the correlation is −1/(n − 1) whatever the values.
        let complete = graph(GraphSpec::Complete);
        assert_eq!(assortativity(&x, &complete), Some(-1.0 / 3.0));
        // A ring 0-1-2-3-0: ties 0-1 and 2-3 join equals, 1-2 and 3-0 opposites.
        let ring = graph(GraphSpec::RingLattice { k: 2 });
        assert!(assortativity(&x, &ring).unwrap().abs() < 1e-12);
        // Two ties joining equals only: fully assortative.
        let edges = parse_edge_list("0 1\n2 3\n", 4).unwrap();
        let pairs = graph(GraphSpec::EdgeList {
            path: String::new(),
            edges,
        });
        assert!((assortativity(&x, &pairs).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(tie_distance(&x, &pairs), 0.0);
    }
}
