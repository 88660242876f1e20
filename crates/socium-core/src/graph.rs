//! The social graph: who is tied to whom, how closely, and the generators that draw it.
//!
//! Games read it for pairing (a donor meets a neighbour), visibility and gossip. It is drawn from
//! the Sim's `graph` stream at every seeded reset, so a seed fixes the graph too.

use crate::{AgentId, SimRng, bounded::Probability};
use bevy_ecs::resource::Resource;
use petgraph::graph::{NodeIndex, UnGraph};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How two agents relate, after Sotopia's relationship levels (Zhou et al. 2024): the level
/// decides what each may see of the other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// Sees nothing of the other.
    Stranger,
    /// Knows the other's name.
    KnowByName,
    /// Knows all but personality and secrets.
    #[default]
    Acquaintance,
    /// Knows all but secrets.
    Friend,
    /// Romantic partners.
    Romantic,
    /// Family.
    Family,
}

/// An edge of the social graph.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tie {
    /// The relationship.
    pub kind: Relationship,
    /// A weight games may read and change (closeness, trust...).
    pub weight: f32,
}

impl Default for Tie {
    fn default() -> Self {
        Tie {
            kind: Relationship::Acquaintance,
            weight: 1.0,
        }
    }
}

/// One line of an edge-list file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    /// One end.
    pub a: AgentId,
    /// The other end.
    pub b: AgentId,
    /// The tie between them.
    pub tie: Tie,
}

/// How to draw the social graph. Scenario files name a variant in snake case.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GraphSpec {
    /// Everyone tied to everyone (well-mixed population).
    #[default]
    Complete,
    /// A ring, each agent tied to its `k` nearest neighbours (`k` even).
    RingLattice {
        /// Neighbours per agent (even, < n).
        k: usize,
    },
    /// G(n, p): every pair tied with probability `p` (Erdős & Rényi 1959).
    ErdosRenyi {
        /// Tie probability.
        p: Probability,
    },
    /// A ring lattice whose edges are rewired with probability `p` (Watts & Strogatz 1998).
    WattsStrogatz {
        /// Neighbours per agent in the starting lattice (even, < n).
        k: usize,
        /// Rewiring probability.
        p: Probability,
    },
    /// Preferential attachment, each newcomer tied to `m` agents (Barabási & Albert 1999).
    BarabasiAlbert {
        /// Ties per newcomer (1 ≤ m < n).
        m: usize,
    },
    /// Stochastic block model: blocks of the given sizes (in agent order), ties with probability
    /// `p_in` inside a block and `p_out` between blocks (Holland et al. 1983).
    StochasticBlock {
        /// Block sizes; they must add up to the number of agents.
        sizes: Vec<usize>,
        /// Tie probability inside a block.
        p_in: Probability,
        /// Tie probability between blocks.
        p_out: Probability,
    },
    /// Ties read from a file: one `a b [relationship] [weight]` per line, `#` comments.
    EdgeList {
        /// The file, relative to the scenario file.
        path: String,
        /// The edges, filled in by the loader (see [`parse_edge_list`]).
        #[serde(skip)]
        edges: Vec<Edge>,
    },
}

/// The names of the generators, for `socium list`.
pub const GENERATORS: &[(&str, &str)] = &[
    ("complete", "everyone tied to everyone"),
    ("ring_lattice", "ring, k nearest neighbours (k)"),
    ("erdos_renyi", "each pair tied with probability p (p)"),
    (
        "watts_strogatz",
        "ring lattice rewired with probability p (k, p)",
    ),
    (
        "barabasi_albert",
        "preferential attachment, m ties per newcomer (m)",
    ),
    (
        "stochastic_block",
        "blocks with tie probabilities p_in, p_out (sizes, p_in, p_out)",
    ),
    ("edge_list", "ties read from a file (path)"),
];

impl GraphSpec {
    /// Whether the graph is drawn at random (from the Sim's seed).
    pub fn is_random(&self) -> bool {
        !matches!(
            self,
            GraphSpec::Complete | GraphSpec::RingLattice { .. } | GraphSpec::EdgeList { .. }
        )
    }

    /// Checks the generator's parameters against the number of agents.
    pub fn check(&self, n: usize) -> Result<(), String> {
        let even_below_n = |k: usize| {
            if n < 3 {
                Err(format!("a ring lattice needs at least 3 agents, found {n}"))
            } else if k == 0 || !k.is_multiple_of(2) || k >= n {
                Err(format!(
                    "k = {k}: expected an even number in [2, {}] for {n} agents",
                    n - 1
                ))
            } else {
                Ok(())
            }
        };
        match self {
            GraphSpec::Complete | GraphSpec::ErdosRenyi { .. } => Ok(()),
            GraphSpec::EdgeList { path, edges } => {
                match edges
                    .iter()
                    .flat_map(|e| [e.a, e.b])
                    .find(|a| a.index() >= n)
                {
                    Some(a) => Err(format!(
                        "edge list `{path}`: agent {} does not exist: there are {n} agents",
                        a.0
                    )),
                    None => Ok(()),
                }
            }
            GraphSpec::RingLattice { k } | GraphSpec::WattsStrogatz { k, .. } => even_below_n(*k),
            GraphSpec::BarabasiAlbert { m } if *m == 0 || *m >= n => Err(format!(
                "m = {m}: expected a whole number in [1, {}] for {n} agents",
                n - 1
            )),
            GraphSpec::BarabasiAlbert { .. } => Ok(()),
            GraphSpec::StochasticBlock { sizes, .. } => {
                let total: usize = sizes.iter().sum();
                if total != n || sizes.contains(&0) {
                    Err(format!(
                        "sizes = {sizes:?}: expected positive block sizes adding up to the {n} \
                         agents (they add up to {total})"
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Draws the graph for `n` agents from the `graph` stream.
    pub fn generate(&self, n: usize, rng: &mut SimRng) -> SocialGraph {
        let rng = &mut rng.graph;
        let mut g = SocialGraph::empty(n);
        let tie = Tie::default();
        match self {
            GraphSpec::Complete => {
                for a in 0..n {
                    for b in a + 1..n {
                        g.add(a, b, tie);
                    }
                }
                g.complete = true;
            }
            GraphSpec::RingLattice { k } => ring_lattice(&mut g, n, *k),
            GraphSpec::ErdosRenyi { p } => {
                for a in 0..n {
                    for b in a + 1..n {
                        if rng.random_bool(p.get()) {
                            g.add(a, b, tie);
                        }
                    }
                }
            }
            GraphSpec::WattsStrogatz { k, p } => {
                ring_lattice(&mut g, n, *k);
                // Rewire each lattice edge (a, a + j) with probability p to a uniform new end,
                // avoiding self-loops and duplicate edges (Watts & Strogatz 1998).
                for j in 1..=k / 2 {
                    for a in 0..n {
                        let b = (a + j) % n;
                        if !rng.random_bool(p.get()) || g.degree(a) >= n - 1 {
                            continue;
                        }
                        let c = loop {
                            let c = rng.random_range(0..n);
                            if c != a && !g.has(a, c) {
                                break c;
                            }
                        };
                        g.remove(a, b);
                        g.add(a, c, tie);
                    }
                }
            }
            GraphSpec::BarabasiAlbert { m } => {
                // Start from a clique of m + 1, then attach each newcomer to m distinct agents
                // drawn proportionally to degree (each edge end listed once in `ends`).
                let mut ends = Vec::with_capacity(2 * m * n);
                for a in 0..=*m {
                    for b in a + 1..=*m {
                        g.add(a, b, tie);
                        ends.extend([a, b]);
                    }
                }
                let mut chosen = Vec::with_capacity(*m);
                for new in m + 1..n {
                    chosen.clear();
                    while chosen.len() < *m {
                        let t = ends[rng.random_range(0..ends.len())];
                        if !chosen.contains(&t) {
                            chosen.push(t);
                        }
                    }
                    for &t in &chosen {
                        g.add(new, t, tie);
                        ends.extend([new, t]);
                    }
                }
            }
            GraphSpec::StochasticBlock { sizes, p_in, p_out } => {
                let block: Vec<usize> = sizes
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &s)| std::iter::repeat_n(i, s))
                    .collect();
                for a in 0..n {
                    for b in a + 1..n {
                        let p = if block[a] == block[b] { p_in } else { p_out };
                        if rng.random_bool(p.get()) {
                            g.add(a, b, tie);
                        }
                    }
                }
            }
            GraphSpec::EdgeList { edges, .. } => {
                for e in edges {
                    g.add(e.a.index(), e.b.index(), e.tie);
                }
            }
        }
        g.index_neighbours();
        g
    }
}

fn ring_lattice(g: &mut SocialGraph, n: usize, k: usize) {
    for a in 0..n {
        for j in 1..=k / 2 {
            g.add(a, (a + j) % n, Tie::default());
        }
    }
}

/// Where and why an edge-list file was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct EdgeListError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses an edge list for `n` agents: `a b [relationship] [weight]` per line, `#` comments.
pub fn parse_edge_list(text: &str, n: usize) -> Result<Vec<Edge>, EdgeListError> {
    let mut edges = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: String| EdgeListError {
            line: i + 1,
            message,
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !(2..=4).contains(&fields.len()) {
            return Err(err(format!(
                "expected `a b [relationship] [weight]`, found {} fields",
                fields.len()
            )));
        }
        let agent = |s: &str| -> Result<AgentId, EdgeListError> {
            let id: u32 = s
                .parse()
                .map_err(|_| err(format!("`{s}` is not an agent id")))?;
            if id as usize >= n {
                return Err(err(format!(
                    "agent {id} does not exist: the scenario has {n} agents (ids 0..={})",
                    n.saturating_sub(1)
                )));
            }
            Ok(AgentId(id))
        };
        let (a, b) = (agent(fields[0])?, agent(fields[1])?);
        if a == b {
            return Err(err(format!("self-tie of agent {}", a.0)));
        }
        let mut tie = Tie::default();
        if let Some(kind) = fields.get(2) {
            tie.kind = Relationship::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new(kind))
            .map_err(|_| {
                err(format!(
                    "unknown relationship `{kind}`, expected stranger, know_by_name, \
                     acquaintance, friend, romantic or family"
                ))
            })?;
        }
        if let Some(w) = fields.get(3) {
            tie.weight = w
                .parse::<f32>()
                .ok()
                .filter(|w| w.is_finite())
                .ok_or_else(|| err(format!("weight `{w}` is not a finite number")))?;
        }
        edges.push(Edge { a, b, tie });
    }
    Ok(edges)
}

/// The social graph of a Sim: an undirected `petgraph` graph over agents, with neighbour lists
/// kept sorted for fast, deterministic pairing.
#[derive(Resource, Clone, Debug)]
pub struct SocialGraph {
    graph: UnGraph<AgentId, Tie>,
    neighbours: Vec<Vec<AgentId>>,
    complete: bool,
}

impl SocialGraph {
    fn empty(n: usize) -> Self {
        let mut graph = UnGraph::with_capacity(n, 0);
        for i in 0..n {
            graph.add_node(AgentId(i as u32));
        }
        SocialGraph {
            graph,
            neighbours: Vec::new(),
            complete: false,
        }
    }

    fn add(&mut self, a: usize, b: usize, tie: Tie) {
        let (a, b) = (NodeIndex::new(a), NodeIndex::new(b));
        match self.graph.find_edge(a, b) {
            Some(e) => self.graph[e] = tie,
            None => {
                self.graph.add_edge(a, b, tie);
            }
        }
    }

    fn remove(&mut self, a: usize, b: usize) {
        if let Some(e) = self.graph.find_edge(NodeIndex::new(a), NodeIndex::new(b)) {
            self.graph.remove_edge(e);
        }
    }

    fn has(&self, a: usize, b: usize) -> bool {
        self.graph
            .find_edge(NodeIndex::new(a), NodeIndex::new(b))
            .is_some()
    }

    fn degree(&self, a: usize) -> usize {
        self.graph.neighbors(NodeIndex::new(a)).count()
    }

    fn index_neighbours(&mut self) {
        self.neighbours = (0..self.graph.node_count())
            .map(|a| {
                let mut ns: Vec<AgentId> = self
                    .graph
                    .neighbors(NodeIndex::new(a))
                    .map(|b| AgentId(b.index() as u32))
                    .collect();
                ns.sort_unstable();
                ns
            })
            .collect();
        let n = self.graph.node_count();
        self.complete |= self.graph.edge_count() == n * n.saturating_sub(1) / 2;
    }

    /// Number of agents.
    pub fn agent_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of ties.
    pub fn tie_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Whether everyone is tied to everyone.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The neighbours of `a`, sorted by id.
    pub fn neighbours(&self, a: AgentId) -> &[AgentId] {
        &self.neighbours[a.index()]
    }

    /// The tie between `a` and `b`, if any.
    pub fn tie(&self, a: AgentId, b: AgentId) -> Option<&Tie> {
        let e = self
            .graph
            .find_edge(NodeIndex::new(a.index()), NodeIndex::new(b.index()))?;
        Some(&self.graph[e])
    }

    /// The tie between `a` and `b`, to change its weight or kind.
    pub fn tie_mut(&mut self, a: AgentId, b: AgentId) -> Option<&mut Tie> {
        let e = self
            .graph
            .find_edge(NodeIndex::new(a.index()), NodeIndex::new(b.index()))?;
        Some(&mut self.graph[e])
    }

    /// A uniformly random neighbour of `a` (any other agent on a complete graph), or `None` for an
    /// isolated agent.
    pub fn random_neighbour(&self, a: AgentId, rng: &mut impl Rng) -> Option<AgentId> {
        if self.complete {
            let n = self.agent_count() as u32;
            if n < 2 {
                return None;
            }
            let b = rng.random_range(0..n - 1);
            return Some(AgentId(if b >= a.0 { b + 1 } else { b }));
        }
        let ns = self.neighbours(a);
        (!ns.is_empty()).then(|| ns[rng.random_range(0..ns.len())])
    }

    /// The underlying petgraph graph (node weights are agent ids).
    pub fn graph(&self) -> &UnGraph<AgentId, Tie> {
        &self.graph
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(spec: GraphSpec, n: usize) -> SocialGraph {
        spec.check(n).unwrap();
        spec.generate(n, &mut SimRng::new(3))
    }

    fn p(v: f64) -> Probability {
        Probability::new(v).unwrap()
    }

    /// Times Barabási–Albert graphs (m = 3) of 100,000 and 1,000,000 agents, split into drawing
    /// and indexing. Run in release:
    /// `cargo test --release -p socium-core graph::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing harness: run in release with --nocapture"]
    fn timing() {
        use std::time::Instant;
        for n in [100_000, 1_000_000] {
            let t = Instant::now();
            let g = GraphSpec::BarabasiAlbert { m: 3 }.generate(n, &mut SimRng::new(1));
            let total = t.elapsed();
            let mut h = g.clone();
            h.neighbours = Vec::new();
            let t = Instant::now();
            h.index_neighbours();
            let index = t.elapsed();
            println!(
                "BA m=3 n={n}: total {total:?} = drawing {:?} + indexing {index:?}; {} ties",
                total - index,
                g.tie_count()
            );
        }
        for n in [1_000, 3_000] {
            let t = Instant::now();
            let g = GraphSpec::Complete.generate(n, &mut SimRng::new(1));
            println!("complete n={n}: {:?}; {} ties", t.elapsed(), g.tie_count());
        }
    }

    #[test]
    fn generators_have_their_edge_counts() {
        assert_eq!(draw(GraphSpec::Complete, 10).tie_count(), 45);
        let ring = draw(GraphSpec::RingLattice { k: 4 }, 10);
        assert_eq!(ring.tie_count(), 20);
        assert!((0..10).all(|a| ring.neighbours(AgentId(a)).len() == 4));
        // Rewiring keeps the edge count.
        assert_eq!(
            draw(GraphSpec::WattsStrogatz { k: 4, p: p(0.3) }, 50).tie_count(),
            100
        );
        // Clique of m + 1 then m per newcomer.
        assert_eq!(
            draw(GraphSpec::BarabasiAlbert { m: 2 }, 20).tie_count(),
            3 + 2 * 17
        );
        assert_eq!(draw(GraphSpec::ErdosRenyi { p: p(0.0) }, 10).tie_count(), 0);
        assert_eq!(
            draw(GraphSpec::ErdosRenyi { p: p(1.0) }, 10).tie_count(),
            45
        );
        let sbm = GraphSpec::StochasticBlock {
            sizes: vec![5, 5],
            p_in: p(1.0),
            p_out: p(0.0),
        };
        let g = draw(sbm, 10);
        assert_eq!(g.tie_count(), 20);
        assert!(g.tie(AgentId(0), AgentId(5)).is_none());
    }

    #[test]
    fn erdos_renyi_density_is_p() {
        let g = draw(GraphSpec::ErdosRenyi { p: p(0.1) }, 200);
        let density = g.tie_count() as f64 / (200.0 * 199.0 / 2.0);
        // 19,900 pairs: standard deviation of the density is about 0.002.
        assert!((density - 0.1).abs() < 0.01, "density {density}");
    }

    #[test]
    fn same_seed_same_graph() {
        let spec = GraphSpec::WattsStrogatz { k: 4, p: p(0.5) };
        let a = spec.generate(30, &mut SimRng::new(9));
        let b = spec.generate(30, &mut SimRng::new(9));
        let c = spec.generate(30, &mut SimRng::new(10));
        let lists = |g: &SocialGraph| {
            (0..30)
                .map(|i| g.neighbours(AgentId(i)).to_vec())
                .collect::<Vec<_>>()
        };
        assert_eq!(lists(&a), lists(&b));
        assert_ne!(lists(&a), lists(&c));
    }

    #[test]
    fn check_refuses_bad_parameters() {
        assert!(GraphSpec::RingLattice { k: 3 }.check(10).is_err());
        assert!(GraphSpec::RingLattice { k: 10 }.check(10).is_err());
        assert!(GraphSpec::BarabasiAlbert { m: 0 }.check(10).is_err());
        let sbm = GraphSpec::StochasticBlock {
            sizes: vec![4, 4],
            p_in: p(1.0),
            p_out: p(0.0),
        };
        assert_eq!(
            sbm.check(10).unwrap_err(),
            "sizes = [4, 4]: expected positive block sizes adding up to the 10 agents (they add up to 8)"
        );
    }

    #[test]
    fn edge_list_parses_and_names_bad_lines() {
        let edges = parse_edge_list("# ties\n0 1\n1 2 friend 0.5\n", 3).unwrap();
        assert_eq!(edges.len(), 2);
        assert_eq!(
            edges[1].tie,
            Tie {
                kind: Relationship::Friend,
                weight: 0.5
            }
        );
        assert_eq!(
            parse_edge_list("0 1\n0 7\n", 3).unwrap_err(),
            EdgeListError {
                line: 2,
                message: "agent 7 does not exist: the scenario has 3 agents (ids 0..=2)".into()
            }
        );
        assert_eq!(
            parse_edge_list("0 x", 3).unwrap_err().message,
            "`x` is not an agent id"
        );
        assert!(
            parse_edge_list("0 1 enemy", 3)
                .unwrap_err()
                .message
                .contains("enemy")
        );
        let listed = GraphSpec::EdgeList {
            path: "e.txt".into(),
            edges: edges.clone(),
        };
        assert_eq!(
            listed.check(2).unwrap_err(),
            "edge list `e.txt`: agent 2 does not exist: there are 2 agents"
        );
        assert_eq!(listed.check(3), Ok(()));
        let g = GraphSpec::EdgeList {
            path: String::new(),
            edges,
        }
        .generate(3, &mut SimRng::new(1));
        assert_eq!(g.neighbours(AgentId(1)), &[AgentId(0), AgentId(2)]);
    }

    #[test]
    fn random_neighbour_respects_ties() {
        let g = draw(GraphSpec::RingLattice { k: 2 }, 10);
        let mut rng = SimRng::new(1).pairing;
        for _ in 0..50 {
            let b = g.random_neighbour(AgentId(0), &mut rng).unwrap();
            assert!(b == AgentId(1) || b == AgentId(9));
        }
        let full = draw(GraphSpec::Complete, 3);
        for _ in 0..50 {
            assert_ne!(
                full.random_neighbour(AgentId(1), &mut rng),
                Some(AgentId(1))
            );
        }
    }
}
