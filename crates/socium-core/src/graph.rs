//! The social graph: who is tied to whom, how closely, and the generators that draw it.
//!
//! Games read it for pairing (a donor meets a neighbour), visibility and gossip. It is drawn from
//! the Sim's `graph` stream at every seeded reset, so a seed fixes the graph too.

use crate::{AgentId, SimRng, bounded::Probability};
use bevy_ecs::component::Component;
use petgraph::graph::{NodeIndex, UnGraph};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Index;
use std::sync::OnceLock;

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

impl Relationship {
    /// One level closer, up to a friend: a stranger comes to know the other's name, then
    /// becomes an acquaintance, then a friend; friends, partners and family stay as they are.
    pub fn closer(self) -> Relationship {
        match self {
            Relationship::Stranger => Relationship::KnowByName,
            Relationship::KnowByName => Relationship::Acquaintance,
            Relationship::Acquaintance | Relationship::Friend => Relationship::Friend,
            close @ (Relationship::Romantic | Relationship::Family) => close,
        }
    }
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
    /// An acquaintance of weight 1.
    fn default() -> Self {
        DEFAULT_TIE
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
            GraphSpec::BarabasiAlbert { .. } if n < 2 => Err(format!(
                "a Barabási–Albert graph needs at least 2 agents, found {n}"
            )),
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
    ///
    /// The parameters must pass [`check`](Self::check) for `n`. A seed fixes the graph: every
    /// generator draws the same numbers in the same order, and ties the same pairs, as it always
    /// has (the goldens rely on it). Costs: `complete` is O(n) in time and memory (the graph is
    /// implicit, see [`SocialGraph`]); `ring_lattice`, `watts_strogatz`, `barabasi_albert` and
    /// `edge_list` are O(n + ties) (`edge_list` with a sort); `erdos_renyi` and
    /// `stochastic_block` draw one number per pair as their definition says, so their time is
    /// O(n²) (their memory is O(n + ties)).
    pub fn generate(&self, n: usize, rng: &mut SimRng) -> SocialGraph {
        match self.draw(n, &mut rng.graph) {
            Drawn::Complete => SocialGraph::complete(n),
            Drawn::Edges { ends, ties } => SocialGraph::from_edges(n, ends, ties),
        }
    }

    /// Draws the ties, before they are frozen into a [`SocialGraph`].
    fn draw(&self, n: usize, rng: &mut impl Rng) -> Drawn {
        u32::try_from(n).expect("agent ids are u32");
        let id = |a: usize| a as u32;
        match self {
            GraphSpec::Complete => Drawn::Complete,
            GraphSpec::RingLattice { k } => Drawn::default_ties(ring_lattice(n, *k)),
            GraphSpec::ErdosRenyi { p } => {
                let mut ends = Vec::new();
                for a in 0..n {
                    for b in a + 1..n {
                        if rng.random_bool(p.get()) {
                            ends.extend([id(a), id(b)]);
                        }
                    }
                }
                Drawn::default_ties(ends)
            }
            GraphSpec::WattsStrogatz { k, p } => {
                let h = k / 2;
                let mut ends = ring_lattice(n, *k);
                // Lattice tie (a, a + j mod n) is tie a·h + j − 1 of `ends`. Whether a pair is
                // tied is arithmetic on the lattice, corrected by the pairs rewired so far: no
                // set of all ties, and no list per agent.
                let mut degree = vec![*k; n];
                let mut removed = PairSet::default();
                let mut added = PairSet::default();
                let lattice = |a: usize, c: usize| {
                    let d = a.abs_diff(c);
                    d.min(n - d) <= h
                };
                // Rewire each lattice edge (a, a + j) with probability p to a uniform new end,
                // avoiding self-loops and duplicate edges (Watts & Strogatz 1998).
                for j in 1..=h {
                    for a in 0..n {
                        let b = (a + j) % n;
                        if !rng.random_bool(p.get()) || degree[a] >= n - 1 {
                            continue;
                        }
                        let c = loop {
                            let c = rng.random_range(0..n);
                            let tied = (lattice(a, c) && !removed.contains(&pair(a, c)))
                                || added.contains(&pair(a, c));
                            if c != a && !tied {
                                break c;
                            }
                        };
                        // (a, b) is still tied: only its own turn removes a lattice tie.
                        removed.insert(pair(a, b));
                        added.insert(pair(a, c));
                        degree[b] -= 1;
                        degree[c] += 1;
                        ends[2 * (a * h + j - 1) + 1] = id(c);
                    }
                }
                Drawn::default_ties(ends)
            }
            GraphSpec::BarabasiAlbert { m } => {
                let m = *m;
                // Start from a clique of m + 1, then attach each newcomer to m distinct agents
                // drawn proportionally to degree (each edge end listed once in `ends`, which is
                // also the list of ties: a newcomer's ties are new pairs).
                let mut ends = Vec::with_capacity(2 * m * n);
                for a in 0..=m {
                    for b in a + 1..=m {
                        ends.extend([id(a), id(b)]);
                    }
                }
                let mut chosen = Vec::with_capacity(m);
                for new in m + 1..n {
                    chosen.clear();
                    while chosen.len() < m {
                        let t = ends[rng.random_range(0..ends.len())];
                        if !chosen.contains(&t) {
                            chosen.push(t);
                        }
                    }
                    for &t in &chosen {
                        ends.extend([id(new), t]);
                    }
                }
                Drawn::default_ties(ends)
            }
            GraphSpec::StochasticBlock { sizes, p_in, p_out } => {
                let block: Vec<usize> = sizes
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &s)| std::iter::repeat_n(i, s))
                    .collect();
                let mut ends = Vec::new();
                for a in 0..n {
                    for b in a + 1..n {
                        let p = if block[a] == block[b] { p_in } else { p_out };
                        if rng.random_bool(p.get()) {
                            ends.extend([id(a), id(b)]);
                        }
                    }
                }
                Drawn::default_ties(ends)
            }
            GraphSpec::EdgeList { edges, .. } => {
                // A pair listed twice (either way round) is one tie, with the tie listed last.
                let mut listed: Vec<(AgentId, AgentId, Tie)> = edges
                    .iter()
                    .map(|e| {
                        let (a, b) = pair(e.a, e.b);
                        (a, b, e.tie)
                    })
                    .collect();
                listed.sort_by_key(|&(a, b, _)| (a, b)); // stable: listing order within a pair
                listed.dedup_by(|later, kept| {
                    let same = (later.0, later.1) == (kept.0, kept.1);
                    if same {
                        kept.2 = later.2;
                    }
                    same
                });
                Drawn::Edges {
                    ends: listed.iter().flat_map(|&(a, b, _)| [a.0, b.0]).collect(),
                    ties: Some(listed.iter().map(|&(_, _, t)| t).collect()),
                }
            }
        }
    }
}

/// A drawn graph, before it is frozen into a [`SocialGraph`].
enum Drawn {
    /// Everyone tied to everyone, by default ties.
    Complete,
    /// Tie `e` joins agents `ends[2e]` and `ends[2e + 1]`; each pair is tied at most once.
    Edges {
        /// The two ends of each tie, flat.
        ends: Vec<u32>,
        /// One tie per pair, or `None` for default ties.
        ties: Option<Vec<Tie>>,
    },
}

impl Drawn {
    fn default_ties(ends: Vec<u32>) -> Self {
        Drawn::Edges { ends, ties: None }
    }
}

/// The ties of a ring lattice, flat: (a, a + j mod n) for each a, then j in 1..=k/2. No pair
/// twice, as k < n.
fn ring_lattice(n: usize, k: usize) -> Vec<u32> {
    let mut ends = Vec::with_capacity(n * k);
    for a in 0..n {
        for j in 1..=k / 2 {
            ends.extend([a as u32, ((a + j) % n) as u32]);
        }
    }
    ends
}

/// An unordered pair, smaller end first.
fn pair<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

/// A set of pairs of agent indices, with a cheap hash (the pairs are not chosen by an adversary,
/// and nothing iterates the set, so the order it would give does not matter).
type PairSet = HashSet<(usize, usize), BuildHasherDefault<PairHasher>>;

/// Hashes a pair of integers with a multiply-rotate step per word and a final mix
/// (SplitMix64's finalizer), so that both the low and the high bits of the hash vary.
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(26) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
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

/// The social graph of a Sim: who is tied to whom, and by what [`Tie`].
///
/// It is laid out for a million agents:
///
/// - **Drawn graphs are compressed sparse rows (CSR).** All neighbour lists live in one flat
///   vector, each agent's row sorted by id, beside a vector of row starts: four allocations for
///   the whole graph instead of one per agent (the sorted lists kept beside petgraph's linked
///   adjacency lists, which scatter an agent's edges over the edge vector). Rows are contiguous,
///   so pairing walks them from cache, and an agent's neighbours are one slice
///   ([`Neighbours::as_slice`]). Each row slot also names its tie in one vector of ties, so both
///   ends share one `Tie`: a change through [`tie_mut(a, b)`](Self::tie_mut) is seen through
///   `tie(b, a)`. Freezing 3 million ties into rows takes a counting sort, not a million small
///   allocations.
/// - **Complete graphs are implicit.** Nothing is stored per pair: everyone is tied to everyone
///   else by the default tie, so a complete graph of n agents takes O(n) memory (one vector of
///   the ids, which [`neighbours`](Self::neighbours) lends out as the two runs around an agent)
///   however many ties, n(n − 1)/2, it counts. Only the ties changed through
///   [`tie_mut`](Self::tie_mut) are stored, in a map. A drawn graph that happens to tie every
///   pair (`erdos_renyi` with p = 1, an edge list of every pair) becomes implicit too, keeping
///   its non-default ties in that map.
///
/// The graph wraps `petgraph` for its algorithms: [`graph`](Self::graph) builds a petgraph view
/// on first use.
#[derive(Component, Clone, Debug)]
pub struct SocialGraph {
    /// Number of agents.
    n: usize,
    /// Whether the graph counts as complete: every pair tied (or as many ties as pairs, see
    /// [`SocialGraph::is_complete`]).
    complete: bool,
    /// Where the ties are.
    layout: Layout,
    /// The petgraph view, built by [`SocialGraph::graph`] and dropped by
    /// [`SocialGraph::tie_mut`].
    view: OnceLock<UnGraph<AgentId, Tie>>,
}

/// How a [`SocialGraph`] stores its ties.
#[derive(Clone, Debug)]
enum Layout {
    /// Listed ties, in compressed sparse rows.
    Rows(Rows),
    /// Everyone tied to everyone.
    Implicit(Implicit),
}

/// Compressed sparse rows: agent `a`'s neighbours are `neighbours[offsets[a]..offsets[a + 1]]`,
/// sorted by id, and the tie with `neighbours[s]` is `ties[slots[s]]` (one tie per pair, shared
/// by its two ends).
#[derive(Clone, Debug)]
struct Rows {
    /// Row starts, n + 1 of them (the last is the number of slots).
    offsets: Vec<u32>,
    /// Every row's neighbours.
    neighbours: Vec<AgentId>,
    /// For each slot of `neighbours`, its tie's index in `ties`.
    slots: Vec<u32>,
    /// One tie per pair.
    ties: Vec<Tie>,
}

/// A complete graph: the ids `0..n`, so that the neighbours of `a` are the two runs of ids before
/// and after it, and the ties that differ from the default, by pair (smaller id first).
#[derive(Clone, Debug)]
struct Implicit {
    /// `AgentId(0)..AgentId(n)`.
    ids: Vec<AgentId>,
    /// The ties changed through `tie_mut` (or drawn non-default).
    changed: BTreeMap<(AgentId, AgentId), Tie>,
}

/// The tie of an implicit complete graph's pairs, lent out by [`SocialGraph::tie`].
static DEFAULT_TIE: Tie = Tie {
    kind: Relationship::Acquaintance,
    weight: 1.0,
};

impl Rows {
    /// The row of `a`, as a range of slots.
    #[inline]
    fn range(&self, a: AgentId) -> std::ops::Range<usize> {
        self.offsets[a.index()] as usize..self.offsets[a.index() + 1] as usize
    }

    /// The index in `ties` of the tie between `a` and `b`, if any.
    fn tie_index(&self, a: AgentId, b: AgentId) -> Option<usize> {
        let start = *self.offsets.get(a.index())? as usize;
        let end = *self.offsets.get(a.index() + 1)? as usize;
        let i = self.neighbours[start..end].binary_search(&b).ok()?;
        Some(self.slots[start + i] as usize)
    }
}

impl SocialGraph {
    /// The complete graph of `n` agents, with default ties.
    fn complete(n: usize) -> Self {
        Self::implicit(n, BTreeMap::new())
    }

    /// The complete graph of `n` agents, with the given non-default ties.
    fn implicit(n: usize, changed: BTreeMap<(AgentId, AgentId), Tie>) -> Self {
        SocialGraph {
            n,
            complete: true,
            layout: Layout::Implicit(Implicit {
                ids: (0..n as u32).map(AgentId).collect(),
                changed,
            }),
            view: OnceLock::new(),
        }
    }

    /// Freezes drawn ties into rows: tie `e` joins `ends[2e]` and `ends[2e + 1]`, each pair at
    /// most once (a self-tie takes one slot); `ties` gives each its tie, default when `None`.
    ///
    /// A counting sort by agent: one pass counts each agent's ties, one places each tie end in
    /// its row; then the rows not yet sorted are sorted (few and short: the generators list ties
    /// in nearly sorted order; a Barabási–Albert newcomer's m targets come in the order drawn).
    /// No allocation per agent. As many ties as pairs (and no self-tie) makes the graph complete,
    /// and implicit.
    fn from_edges(n: usize, ends: Vec<u32>, ties: Option<Vec<Tie>>) -> Self {
        let (pairs, rest) = ends.as_chunks::<2>();
        assert!(rest.is_empty(), "two ends per tie");
        let self_ties = pairs.iter().filter(|&&[a, b]| a == b).count();
        let complete = pairs.len() == n * n.saturating_sub(1) / 2;
        if complete && self_ties == 0 {
            let changed = match ties {
                None => BTreeMap::new(),
                Some(ties) => pairs
                    .iter()
                    .zip(ties)
                    .filter(|(_, t)| *t != DEFAULT_TIE)
                    .map(|(&[a, b], t)| (pair(AgentId(a), AgentId(b)), t))
                    .collect(),
            };
            return Self::implicit(n, changed);
        }
        let slot_count = 2 * pairs.len() - self_ties;
        u32::try_from(slot_count).expect("at most u32::MAX tie ends");
        let mut offsets = vec![0u32; n + 1];
        for &[a, b] in pairs {
            offsets[a as usize + 1] += 1;
            if a != b {
                offsets[b as usize + 1] += 1;
            }
        }
        for a in 0..n {
            offsets[a + 1] += offsets[a];
        }
        // Each slot as one word, neighbour id high and tie index low: one scattered write per
        // slot, and a row sorts as plain integers. Split into the two vectors afterwards.
        let mut next = offsets[..n].to_vec();
        let mut cells = vec![0u64; slot_count];
        let mut place = |a: u32, b: u32, e: usize| {
            let s = next[a as usize];
            next[a as usize] = s + 1;
            cells[s as usize] = (u64::from(b) << 32) | e as u64;
        };
        for (e, &[a, b]) in pairs.iter().enumerate() {
            place(a, b, e);
            if a != b {
                place(b, a, e);
            }
        }
        let tie_count = pairs.len();
        drop(ends);
        for a in 0..n {
            let row = &mut cells[offsets[a] as usize..offsets[a + 1] as usize];
            if !row.is_sorted() {
                row.sort_unstable();
            }
            debug_assert!(
                row.windows(2).all(|w| w[0] >> 32 < w[1] >> 32),
                "each pair tied at most once"
            );
        }
        let neighbours: Vec<AgentId> = cells.iter().map(|&c| AgentId((c >> 32) as u32)).collect();
        let slots: Vec<u32> = cells.iter().map(|&c| c as u32).collect();
        drop(cells);
        let ties = ties.unwrap_or_else(|| vec![DEFAULT_TIE; tie_count]);
        assert_eq!(ties.len(), tie_count, "one tie per pair");
        SocialGraph {
            n,
            complete,
            layout: Layout::Rows(Rows {
                offsets,
                neighbours,
                slots,
                ties,
            }),
            view: OnceLock::new(),
        }
    }

    /// Number of agents.
    pub fn agent_count(&self) -> usize {
        self.n
    }

    /// How many ties `a` has.
    pub fn degree(&self, a: AgentId) -> usize {
        match &self.layout {
            Layout::Rows(rows) => rows.range(a).len(),
            Layout::Implicit(_) => self.n.saturating_sub(1),
        }
    }

    /// Cuts the ties between the pairs `cut` and ties the pairs `join` (each with its tie), at
    /// once: the graph is rebuilt from its ties (O(ties log ties); a complete graph's listed
    /// first, O(n²)). A pair cut and joined in one call ends tied; joining a tied pair, cutting
    /// an untied one or tying an agent to itself changes nothing, so the graph stays simple.
    pub fn rewire(&mut self, cut: &[(AgentId, AgentId)], join: &[(AgentId, AgentId, Tie)]) {
        if cut.is_empty() && join.is_empty() {
            return;
        }
        let mut ties: BTreeMap<(AgentId, AgentId), Tie> = BTreeMap::new();
        for a in (0..self.n as u32).map(AgentId) {
            for &b in self.neighbours(a).iter().filter(|&&b| b > a) {
                ties.insert((a, b), *self.tie(a, b).expect("a neighbour is tied"));
            }
        }
        for &(a, b) in cut {
            ties.remove(&pair(a, b));
        }
        for &(a, b, tie) in join.iter().filter(|(a, b, _)| a != b) {
            ties.entry(pair(a, b)).or_insert(tie);
        }
        let ends = ties.keys().flat_map(|&(a, b)| [a.0, b.0]).collect();
        let listed = ties.into_values().collect();
        *self = SocialGraph::from_edges(self.n, ends, Some(listed));
    }

    /// Number of ties: n(n − 1)/2 on a complete graph, though none is stored.
    pub fn tie_count(&self) -> usize {
        match &self.layout {
            Layout::Rows(rows) => rows.ties.len(),
            Layout::Implicit(_) => self.n * self.n.saturating_sub(1) / 2,
        }
    }

    /// Whether every tie is the default one (an acquaintance of weight 1), as on a drawn complete
    /// graph no game has changed: then ties need not be read one by one.
    pub fn default_ties(&self) -> bool {
        match &self.layout {
            Layout::Rows(rows) => rows.ties.iter().all(|t| *t == DEFAULT_TIE),
            Layout::Implicit(all) => all.changed.is_empty(),
        }
    }

    /// Whether everyone is tied to everyone. Games branch on it to pair agents without walking
    /// neighbour lists (see [`random_neighbour`](Self::random_neighbour)).
    ///
    /// A graph that was drawn with as many ties as pairs counts as complete, as it always has:
    /// that is every pair, unless an edge list ties an agent to itself (then the graph keeps its
    /// rows as listed, and still counts as complete).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The neighbours of `a`, sorted by id (panics if `a` is not an agent).
    ///
    /// On listed ties it is one slice of the rows ([`Neighbours::as_slice`]). On a complete graph
    /// it is every other agent, as the two runs of ids before and after `a`: correct, but
    /// walking it costs O(n), so code that may meet a complete graph should branch on
    /// [`is_complete`](Self::is_complete) or draw with
    /// [`random_neighbour`](Self::random_neighbour) instead.
    #[inline]
    pub fn neighbours(&self, a: AgentId) -> Neighbours<'_> {
        match &self.layout {
            Layout::Rows(rows) => Neighbours {
                head: &rows.neighbours[rows.range(a)],
                tail: &[],
            },
            Layout::Implicit(all) => Neighbours {
                head: &all.ids[..a.index()],
                tail: &all.ids[a.index() + 1..],
            },
        }
    }

    /// The tie between `a` and `b`, if any (`None` too when either is not an agent).
    ///
    /// On a complete graph every pair of two different agents has a tie: the default one unless
    /// it was changed through [`tie_mut`](Self::tie_mut).
    pub fn tie(&self, a: AgentId, b: AgentId) -> Option<&Tie> {
        match &self.layout {
            Layout::Rows(rows) => Some(&rows.ties[rows.tie_index(a, b)?]),
            Layout::Implicit(all) => (a != b && a.index() < self.n && b.index() < self.n)
                .then(|| all.changed.get(&pair(a, b)).unwrap_or(&DEFAULT_TIE)),
        }
    }

    /// The tie between `a` and `b`, to change its weight or kind; the change is seen from both
    /// ends (`tie(b, a)`) and in the [`graph`](Self::graph) view.
    ///
    /// On a complete graph, the first call for a pair stores its tie (a default one) in a map of
    /// changed ties, which only pairs passed to `tie_mut` enter.
    pub fn tie_mut(&mut self, a: AgentId, b: AgentId) -> Option<&mut Tie> {
        let n = self.n;
        let tie = match &mut self.layout {
            Layout::Rows(rows) => {
                let e = rows.tie_index(a, b)?;
                &mut rows.ties[e]
            }
            Layout::Implicit(all) => {
                if a == b || a.index() >= n || b.index() >= n {
                    return None;
                }
                all.changed.entry(pair(a, b)).or_insert(DEFAULT_TIE)
            }
        };
        self.view.take();
        Some(tie)
    }

    /// A uniformly random neighbour of `a` (any other agent on a complete graph), or `None` for an
    /// isolated agent.
    // Always: a pairing loop instantiated twice (the norms game's, public and private) got it
    // as a call, and the norms game's pairing and observations cost 99 instructions a decision
    // against 92 inlined (benches/instructions.py).
    #[inline(always)]
    pub fn random_neighbour(&self, a: AgentId, rng: &mut impl Rng) -> Option<AgentId> {
        if self.complete {
            let n = self.agent_count() as u32;
            if n < 2 {
                return None;
            }
            let b = rng.random_range(0..n - 1);
            return Some(AgentId(if b >= a.0 { b + 1 } else { b }));
        }
        let ns = self.neighbours(a).head;
        (!ns.is_empty()).then(|| ns[rng.random_range(0..ns.len())])
    }

    /// A tie drawn uniformly, as its two agents in a random order (each order equally likely), or
    /// `None` for a graph with no tie: the random pair of Deffuant et al. (2000). On a complete
    /// graph a uniform agent and a uniform neighbour of it are just that; on listed ties a
    /// uniform slot of the rows is (each tie has two slots, one an end; a self-tie has one), where a uniform agent
    /// and then a neighbour would favour the ties of agents with few: on the path 0 – 1 – 2 – 3,
    /// 3/8 for each end tie against 1/4 for the middle one.
    pub fn random_tie(&self, rng: &mut impl Rng) -> Option<(AgentId, AgentId)> {
        match &self.layout {
            Layout::Rows(rows) if !self.complete => {
                if rows.neighbours.is_empty() {
                    return None;
                }
                let slot = rng.random_range(0..rows.neighbours.len());
                // The row holding the slot: the last to start at or before it.
                let a = rows.offsets.partition_point(|&o| o as usize <= slot) - 1;
                Some((AgentId(a as u32), rows.neighbours[slot]))
            }
            _ if self.agent_count() < 2 => None,
            _ => {
                let a = AgentId(rng.random_range(0..self.agent_count()) as u32);
                self.random_neighbour(a, rng).map(|b| (a, b))
            }
        }
    }

    /// A petgraph view of the graph, for petgraph's algorithms: node `i` is agent `i` (its weight
    /// the agent's id), each tie one edge weighted by its [`Tie`], edges in order of their
    /// smaller end, then larger.
    ///
    /// It is built on the first call, in O(n + ties log degree) time and memory (O(n²) for a
    /// complete graph: avoid it on large ones), then kept until [`tie_mut`](Self::tie_mut) is
    /// called.
    pub fn graph(&self) -> &UnGraph<AgentId, Tie> {
        self.view.get_or_init(|| {
            let mut g = UnGraph::with_capacity(self.n, self.tie_count());
            for a in 0..self.n as u32 {
                g.add_node(AgentId(a));
            }
            for a in (0..self.n as u32).map(AgentId) {
                for &b in self.neighbours(a).iter().filter(|&&b| b >= a) {
                    let tie = *self.tie(a, b).expect("a neighbour is tied");
                    g.add_edge(NodeIndex::new(a.index()), NodeIndex::new(b.index()), tie);
                }
            }
            g
        })
    }

    /// How many ties are stored: all of them on listed ties, only the changed ones on a complete
    /// graph.
    #[cfg(test)]
    fn stored_ties(&self) -> usize {
        match &self.layout {
            Layout::Rows(rows) => rows.ties.len(),
            Layout::Implicit(all) => all.changed.len(),
        }
    }
}

/// The neighbours of an agent, sorted by id: what [`SocialGraph::neighbours`] returns.
///
/// It reads like a slice of ids (`len`, `is_empty`, `iter`, `get`, indexing, `contains`, `for`
/// loops), and is one, [`as_slice`](Self::as_slice), except on a complete graph, which stores no
/// neighbour lists: there the neighbours of `a` are the ids before `a` then the ids after it,
/// two runs of one shared vector of all ids.
#[derive(Clone, Copy)]
pub struct Neighbours<'a> {
    head: &'a [AgentId],
    tail: &'a [AgentId],
}

impl<'a> Neighbours<'a> {
    /// Number of neighbours (the agent's degree).
    pub fn len(self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether the agent is isolated.
    pub fn is_empty(self) -> bool {
        self.head.is_empty() && self.tail.is_empty()
    }

    /// The `i`-th neighbour, by id order.
    pub fn get(self, i: usize) -> Option<&'a AgentId> {
        match self.head.get(i) {
            Some(b) => Some(b),
            None => self.tail.get(i - self.head.len()),
        }
    }

    /// The neighbours in id order.
    pub fn iter(
        &self,
    ) -> std::iter::Chain<std::slice::Iter<'a, AgentId>, std::slice::Iter<'a, AgentId>> {
        self.head.iter().chain(self.tail)
    }

    /// Whether `b` is a neighbour (a binary search).
    pub fn contains(self, b: &AgentId) -> bool {
        self.head.binary_search(b).is_ok() || self.tail.binary_search(b).is_ok()
    }

    /// The neighbours as one slice: always on listed ties; on a complete graph, only for the
    /// first and last agents.
    pub fn as_slice(self) -> Option<&'a [AgentId]> {
        match (self.head.is_empty(), self.tail.is_empty()) {
            (_, true) => Some(self.head),
            (true, false) => Some(self.tail),
            (false, false) => None,
        }
    }

    /// The neighbours, copied.
    pub fn to_vec(self) -> Vec<AgentId> {
        self.iter().copied().collect()
    }
}

impl Index<usize> for Neighbours<'_> {
    type Output = AgentId;

    fn index(&self, i: usize) -> &AgentId {
        self.get(i).unwrap_or_else(|| {
            panic!("neighbour {i} of {}: out of range", self.len());
        })
    }
}

impl<'a> IntoIterator for Neighbours<'a> {
    type Item = &'a AgentId;
    type IntoIter = std::iter::Chain<std::slice::Iter<'a, AgentId>, std::slice::Iter<'a, AgentId>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Neighbours<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Neighbours<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Neighbours<'_> {}

impl PartialEq<[AgentId]> for Neighbours<'_> {
    fn eq(&self, other: &[AgentId]) -> bool {
        self.len() == other.len() && self.iter().eq(other)
    }
}

impl PartialEq<&[AgentId]> for Neighbours<'_> {
    fn eq(&self, other: &&[AgentId]) -> bool {
        *self == **other
    }
}

impl<const N: usize> PartialEq<[AgentId; N]> for Neighbours<'_> {
    fn eq(&self, other: &[AgentId; N]) -> bool {
        *self == other[..]
    }
}

impl<const N: usize> PartialEq<&[AgentId; N]> for Neighbours<'_> {
    fn eq(&self, other: &&[AgentId; N]) -> bool {
        *self == other[..]
    }
}

impl PartialEq<Vec<AgentId>> for Neighbours<'_> {
    fn eq(&self, other: &Vec<AgentId>) -> bool {
        *self == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use petgraph::visit::EdgeRef;

    fn draw(spec: GraphSpec, n: usize) -> SocialGraph {
        spec.check(n).unwrap();
        spec.generate(n, &mut SimRng::new(3))
    }

    fn p(v: f64) -> Probability {
        Probability::new(v).unwrap()
    }

    /// Times Barabási–Albert graphs (m = 3) of 100,000 and 1,000,000 agents, split into drawing
    /// the ties and freezing them into rows, then complete, ring-lattice and Watts–Strogatz
    /// graphs, beside the petgraph reference where it finishes; each the best of 5 runs (the
    /// machine may be busy). Run in release:
    /// `cargo test --release -p socium-core graph::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing harness: run in release with --nocapture"]
    fn timing() {
        use std::time::{Duration, Instant};
        fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
            let mut best = Duration::MAX;
            let mut out = None;
            for _ in 0..5 {
                let t = Instant::now();
                let o = f();
                best = best.min(t.elapsed());
                out = Some(o);
            }
            (best, out.expect("ran"))
        }
        for n in [100_000, 1_000_000] {
            let spec = GraphSpec::BarabasiAlbert { m: 3 };
            let (drawing, drawn) = best(|| spec.draw(n, &mut SimRng::new(1).graph));
            let Drawn::Edges { ends, .. } = drawn else {
                unreachable!("listed ties")
            };
            let mut freezing = Duration::MAX;
            let mut g = None;
            for _ in 0..5 {
                let ends = ends.clone();
                let t = Instant::now();
                g = Some(SocialGraph::from_edges(n, ends, None));
                freezing = freezing.min(t.elapsed());
            }
            let g = g.expect("frozen");
            let (total, h) = best(|| spec.generate(n, &mut SimRng::new(1)));
            let (before, old) = best(|| reference::generate(&spec, n, &mut SimRng::new(1)));
            assert_eq!(g.tie_count(), h.tie_count());
            assert_eq!(g.tie_count(), old.graph.edge_count());
            println!(
                "barabasi_albert m=3 n={n}: generate {total:?} (drawing {drawing:?}, freezing \
                 {freezing:?}); petgraph reference {before:?}; {} ties",
                g.tie_count()
            );
        }
        for n in [500, 1_000] {
            let (before, old) =
                best(|| reference::generate(&GraphSpec::Complete, n, &mut SimRng::new(1)));
            println!(
                "complete n={n}: petgraph reference {before:?}; {} ties",
                old.graph.edge_count()
            );
        }
        let specs = [
            ("complete", GraphSpec::Complete),
            ("ring_lattice k=4", GraphSpec::RingLattice { k: 4 }),
            (
                "watts_strogatz k=4 p=0.1",
                GraphSpec::WattsStrogatz {
                    k: 4,
                    p: Probability::new(0.1).unwrap(),
                },
            ),
        ];
        for (name, spec) in specs {
            let n = 1_000_000;
            let (t, g) = best(|| spec.generate(n, &mut SimRng::new(1)));
            println!("{name} n={n}: generate {t:?}; {} ties", g.tie_count());
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
    fn barabasi_albert_attaches_in_proportion_to_degree() {
        // m = 1 on 4 agents: agents 0 and 1 start tied; agent 2 ties to one of them, which then
        // has degree 2 against the others' 1; agent 3 ties to it with probability 2/4 = 0.5
        // (uniform attachment: 1/3). Over 4,000 draws the standard error is 0.0079; the bound,
        // 0.04, is 5 of them, and uniform attachment lands 21 away.
        let draws = 4000;
        let to_hub = (0..draws)
            .filter(|&seed| {
                let g = GraphSpec::BarabasiAlbert { m: 1 }.generate(4, &mut SimRng::new(seed));
                let t = g.neighbours(AgentId(3)).get(0).copied().expect("one tie");
                // Its degree when agent 3 came: without agent 3's tie.
                g.degree(t) - 1 == 2
            })
            .count();
        let share = to_hub as f64 / draws as f64;
        assert!((share - 0.5).abs() < 0.04, "share {share}");
    }

    #[test]
    fn watts_strogatz_stays_simple_after_rewiring() {
        // Every tie rewired with probability 0.5 or 1: no self-tie, no pair twice, as many ties
        // as the lattice had.
        for (seed, rewire) in [(1, 0.5), (2, 1.0), (3, 0.5)] {
            let g = GraphSpec::WattsStrogatz { k: 6, p: p(rewire) }
                .generate(40, &mut SimRng::new(seed));
            assert_eq!(g.tie_count(), 40 * 6 / 2);
            let mut pairs = std::collections::HashSet::new();
            for e in g.graph().edge_indices() {
                let (a, b) = g.graph().edge_endpoints(e).expect("an edge");
                assert_ne!(a, b, "a self-tie");
                assert!(pairs.insert((a.min(b), a.max(b))), "a pair twice");
            }
        }
    }

    /// Each tie of the path 0 – 1 – 2 – 3 is drawn a third of the time, in either order alike
    /// (a uniform agent, then a neighbour, gives the end ties 3/8 each); 60,000 draws, so each
    /// share is within 0.01 (five standard deviations) of its expectation. The complete graph's
    /// draws are pairs of different agents, every ordered pair alike.
    #[test]
    fn a_random_tie_is_uniform_over_ties_and_orders() {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(9);
        let path = SocialGraph::from_edges(4, vec![0, 1, 1, 2, 2, 3], None);
        let complete = SocialGraph::complete(3);
        for (graph, pairs) in [(&path, 6), (&complete, 6)] {
            let mut seen = BTreeMap::new();
            let draws = 60_000;
            for _ in 0..draws {
                let (a, b) = graph.random_tie(&mut rng).unwrap();
                assert!(graph.neighbours(a).contains(&b));
                *seen.entry((a.0, b.0)).or_insert(0) += 1;
            }
            assert_eq!(seen.len(), pairs, "{seen:?}");
            for (pair, count) in seen {
                let share = count as f64 / draws as f64;
                assert!(
                    (share - 1.0 / pairs as f64).abs() < 0.01,
                    "{pair:?}: {share}"
                );
            }
        }
        assert_eq!(
            SocialGraph::from_edges(3, vec![], None).random_tie(&mut rng),
            None
        );
        assert_eq!(SocialGraph::complete(1).random_tie(&mut rng), None);
        assert_eq!(SocialGraph::complete(0).random_tie(&mut rng), None);
    }

    #[test]
    fn a_drawn_graph_with_every_pair_counts_as_complete() {
        assert!(draw(GraphSpec::ErdosRenyi { p: p(1.0) }, 12).is_complete());
        assert!(draw(GraphSpec::RingLattice { k: 4 }, 5).is_complete());
        assert!(!draw(GraphSpec::RingLattice { k: 4 }, 6).is_complete());
        assert!(!draw(GraphSpec::ErdosRenyi { p: p(0.9) }, 12).is_complete());
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
        // One agent leaves no m to name ("in [1, 0]", it had said).
        assert_eq!(
            GraphSpec::BarabasiAlbert { m: 1 }.check(1).unwrap_err(),
            "a Barabási–Albert graph needs at least 2 agents, found 1"
        );
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
        let mut rng = SimRng::new(1).chance;
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

    /// The petgraph-based graph this module drew before its CSR layout, kept as a reference:
    /// the same seed must give the same draws, ties, neighbour lists and neighbour draws.
    mod reference {
        use super::super::*;
        use petgraph::graph::{NodeIndex, UnGraph};

        pub struct Old {
            pub graph: UnGraph<AgentId, Tie>,
            pub neighbours: Vec<Vec<AgentId>>,
            pub complete: bool,
        }

        impl Old {
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

            pub fn tie(&self, a: usize, b: usize) -> Option<Tie> {
                let e = self.graph.find_edge(NodeIndex::new(a), NodeIndex::new(b))?;
                Some(self.graph[e])
            }

            pub fn random_neighbour(&self, a: AgentId, rng: &mut impl Rng) -> Option<AgentId> {
                if self.complete {
                    let n = self.graph.node_count() as u32;
                    if n < 2 {
                        return None;
                    }
                    let b = rng.random_range(0..n - 1);
                    return Some(AgentId(if b >= a.0 { b + 1 } else { b }));
                }
                let ns = &self.neighbours[a.index()];
                (!ns.is_empty()).then(|| ns[rng.random_range(0..ns.len())])
            }
        }

        fn ring_lattice(g: &mut Old, n: usize, k: usize) {
            for a in 0..n {
                for j in 1..=k / 2 {
                    g.add(a, (a + j) % n, Tie::default());
                }
            }
        }

        pub fn generate(spec: &GraphSpec, n: usize, rng: &mut SimRng) -> Old {
            let rng = &mut rng.graph;
            let mut graph = UnGraph::with_capacity(n, 0);
            for i in 0..n {
                graph.add_node(AgentId(i as u32));
            }
            let mut g = Old {
                graph,
                neighbours: Vec::new(),
                complete: false,
            };
            let tie = Tie::default();
            match spec {
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
            g.neighbours = (0..n)
                .map(|a| {
                    let mut ns: Vec<AgentId> = g
                        .graph
                        .neighbors(NodeIndex::new(a))
                        .map(|b| AgentId(b.index() as u32))
                        .collect();
                    ns.sort_unstable();
                    ns
                })
                .collect();
            g.complete |= g.graph.edge_count() == n * n.saturating_sub(1) / 2;
            g
        }
    }

    /// Edges for edge-list specs: pairs of small ids, with ties.
    fn edges(list: &[(u32, u32, Relationship, f32)]) -> Vec<Edge> {
        list.iter()
            .map(|&(a, b, kind, weight)| Edge {
                a: AgentId(a),
                b: AgentId(b),
                tie: Tie { kind, weight },
            })
            .collect()
    }

    /// Every generator, with parameters for `n` agents (some refused by `check`).
    fn specs(n: usize) -> Vec<GraphSpec> {
        use Relationship::*;
        let mut specs = vec![
            GraphSpec::Complete,
            GraphSpec::RingLattice { k: 2 },
            GraphSpec::RingLattice { k: 4 },
            GraphSpec::ErdosRenyi { p: p(0.0) },
            GraphSpec::ErdosRenyi { p: p(0.1) },
            GraphSpec::ErdosRenyi { p: p(0.5) },
            GraphSpec::ErdosRenyi { p: p(1.0) },
            GraphSpec::WattsStrogatz { k: 2, p: p(0.5) },
            GraphSpec::WattsStrogatz { k: 4, p: p(0.3) },
            GraphSpec::WattsStrogatz { k: 4, p: p(1.0) },
            GraphSpec::WattsStrogatz { k: 6, p: p(0.9) },
            GraphSpec::BarabasiAlbert { m: 1 },
            GraphSpec::BarabasiAlbert { m: 2 },
            GraphSpec::BarabasiAlbert { m: 3 },
            GraphSpec::BarabasiAlbert { m: 6 },
            GraphSpec::StochasticBlock {
                sizes: vec![n / 2, n - n / 2],
                p_in: p(0.6),
                p_out: p(0.1),
            },
            GraphSpec::StochasticBlock {
                sizes: vec![1, n.saturating_sub(1)],
                p_in: p(1.0),
                p_out: p(1.0),
            },
            // Duplicates either way round (the last tie listed wins), custom ties.
            GraphSpec::EdgeList {
                path: String::new(),
                edges: edges(&[
                    (0, 1, Friend, 0.5),
                    (2, 1, Family, 2.0),
                    (1, 0, Romantic, 3.0),
                    (3, 4, Acquaintance, 1.0),
                    (1, 2, Stranger, -1.0),
                    (4, 0, KnowByName, 0.0),
                ]),
            },
            // As many ties as pairs, one of them a self-tie: counts as complete, as listed.
            GraphSpec::EdgeList {
                path: String::new(),
                edges: edges(&[
                    (0, 1, Friend, 1.0),
                    (1, 2, Acquaintance, 1.0),
                    (0, 0, Family, 4.0),
                ]),
            },
        ];
        // Every pair, some twice, some with custom ties: complete.
        let mut all = Vec::new();
        for a in 0..n.min(12) as u32 {
            for b in a + 1..n.min(12) as u32 {
                let kind = if (a + b) % 3 == 0 {
                    Friend
                } else {
                    Acquaintance
                };
                all.push((b, a, kind, 1.0));
                if a == 1 {
                    all.push((a, b, Family, 0.5));
                }
            }
        }
        specs.push(GraphSpec::EdgeList {
            path: String::new(),
            edges: edges(&all),
        });
        specs
    }

    #[test]
    fn generators_match_the_petgraph_reference() {
        let mut compared = 0;
        for n in [1, 2, 3, 4, 5, 7, 8, 12, 30, 101] {
            for spec in specs(n) {
                if spec.check(n).is_err() {
                    continue;
                }
                for seed in 1..=4 {
                    let (mut r_new, mut r_old) = (SimRng::new(seed), SimRng::new(seed));
                    let new = spec.generate(n, &mut r_new);
                    let old = reference::generate(&spec, n, &mut r_old);
                    let at = format!("{spec:?}, n = {n}, seed {seed}");
                    // The same number of draws: the streams are in the same state.
                    assert_eq!(
                        r_new.graph.random::<u64>(),
                        r_old.graph.random::<u64>(),
                        "{at}"
                    );
                    assert_eq!(new.agent_count(), n, "{at}");
                    assert_eq!(new.tie_count(), old.graph.edge_count(), "{at}");
                    assert_eq!(new.is_complete(), old.complete, "{at}");
                    for a in 0..n {
                        let id = AgentId(a as u32);
                        assert_eq!(new.neighbours(id), old.neighbours[a], "{at}, agent {a}");
                        for b in 0..n {
                            let tie = new.tie(id, AgentId(b as u32)).copied();
                            assert_eq!(tie, old.tie(a, b), "{at}, tie {a}–{b}");
                        }
                    }
                    let (mut p_new, mut p_old) =
                        (SimRng::new(seed).chance, SimRng::new(seed).chance);
                    for a in (0..n as u32).map(AgentId) {
                        for _ in 0..3 {
                            assert_eq!(
                                new.random_neighbour(a, &mut p_new),
                                old.random_neighbour(a, &mut p_old),
                                "{at}, agent {a}"
                            );
                        }
                    }
                    // The petgraph view has the same ties.
                    let view = new.graph();
                    assert_eq!(view.node_count(), n, "{at}");
                    assert_eq!(view.edge_count(), old.graph.edge_count(), "{at}");
                    for e in view.edge_references() {
                        let (a, b) = (e.source().index(), e.target().index());
                        assert_eq!(Some(*e.weight()), old.tie(a, b), "{at}");
                    }
                    compared += 1;
                }
            }
        }
        assert!(compared > 400, "{compared} graphs compared");
    }

    #[test]
    fn a_complete_graph_stores_nothing_per_pair() {
        let n = 1_000_000;
        let mut g = GraphSpec::Complete.generate(n, &mut SimRng::new(1));
        assert!(g.is_complete());
        assert_eq!(g.tie_count(), n * (n - 1) / 2);
        assert_eq!(g.stored_ties(), 0);
        let Layout::Implicit(all) = &g.layout else {
            panic!("implicit")
        };
        assert_eq!(all.ids.len(), n, "one id per agent, O(n)");
        let ns = g.neighbours(AgentId(7));
        assert_eq!(ns.len(), n - 1);
        assert_eq!(
            (ns[0], ns[6], ns[7], ns[n - 2]),
            (AgentId(0), AgentId(6), AgentId(8), AgentId(999_999))
        );
        assert_eq!(ns.get(n - 1), None);
        assert!(ns.contains(&AgentId(8)) && !ns.contains(&AgentId(7)));
        assert!(ns.iter().is_sorted());
        assert_eq!(ns.as_slice(), None);
        assert_eq!(
            g.neighbours(AgentId(0)).as_slice().map(<[_]>::len),
            Some(n - 1)
        );
        assert_eq!(g.tie(AgentId(3), AgentId(999_999)), Some(&Tie::default()));
        assert_eq!(g.tie(AgentId(3), AgentId(3)), None);
        assert_eq!(g.tie(AgentId(3), AgentId(n as u32)), None);
        assert!(g.tie_mut(AgentId(n as u32), AgentId(3)).is_none());
        assert_eq!(g.stored_ties(), 0, "reading stores nothing");
        let small = GraphSpec::Complete.generate(3, &mut SimRng::new(1));
        assert_eq!(small.neighbours(AgentId(1)), &[AgentId(0), AgentId(2)]);
        assert_eq!(small.neighbours(AgentId(2)), [AgentId(0), AgentId(1)]);
        assert_eq!(
            format!("{:?}", small.neighbours(AgentId(1))),
            "[AgentId(0), AgentId(2)]"
        );
        g.tie_mut(AgentId(999_999), AgentId(3)).unwrap().weight = 0.5;
        assert_eq!(g.stored_ties(), 1, "only the changed tie is stored");
        assert_eq!(g.tie(AgentId(3), AgentId(999_999)).unwrap().weight, 0.5);
    }

    #[test]
    fn a_drawn_complete_graph_is_implicit_and_keeps_its_ties() {
        let g = draw(GraphSpec::ErdosRenyi { p: p(1.0) }, 50);
        assert!(g.is_complete());
        assert!(matches!(g.layout, Layout::Implicit(_)));
        assert_eq!(g.stored_ties(), 0);
        let list = specs(12).pop().unwrap();
        let g = draw(list, 12);
        assert!(g.is_complete() && matches!(g.layout, Layout::Implicit(_)));
        // Pairs (a, b) with 3 | a + b are friends, pairs with 1 in family (listed last).
        assert_eq!(
            g.tie(AgentId(4), AgentId(1)).unwrap().kind,
            Relationship::Family
        );
        assert_eq!(
            g.tie(AgentId(5), AgentId(4)).unwrap().kind,
            Relationship::Friend
        );
        assert_eq!(g.tie(AgentId(5), AgentId(3)), Some(&Tie::default()));
        assert!(g.stored_ties() > 0 && g.stored_ties() < 66);
    }

    #[test]
    fn tie_mut_is_seen_from_both_ends() {
        for spec in [GraphSpec::RingLattice { k: 4 }, GraphSpec::Complete] {
            let mut g = draw(spec.clone(), 10);
            let before = g.graph().edge_count();
            g.tie_mut(AgentId(3), AgentId(4)).unwrap().weight = 0.25;
            g.tie_mut(AgentId(5), AgentId(3)).unwrap().kind = Relationship::Friend;
            assert_eq!(
                g.tie(AgentId(4), AgentId(3)).unwrap().weight,
                0.25,
                "{spec:?}"
            );
            assert_eq!(
                g.tie(AgentId(3), AgentId(4)).unwrap().weight,
                0.25,
                "{spec:?}"
            );
            assert_eq!(
                g.tie(AgentId(3), AgentId(5)),
                Some(&Tie {
                    kind: Relationship::Friend,
                    weight: 1.0
                }),
                "{spec:?}"
            );
            assert_eq!(g.tie(AgentId(4), AgentId(5)), Some(&Tie::default()));
            assert!(g.tie_mut(AgentId(3), AgentId(3)).is_none());
            assert!(g.tie_mut(AgentId(3), AgentId(10)).is_none());
            // The petgraph view was rebuilt with the change.
            let view = g.graph();
            assert_eq!(view.edge_count(), before);
            let e = view
                .find_edge(NodeIndex::new(4), NodeIndex::new(3))
                .unwrap();
            assert_eq!(view[e].weight, 0.25, "{spec:?}");
        }
        let mut ring = draw(GraphSpec::RingLattice { k: 4 }, 10);
        assert!(ring.tie(AgentId(0), AgentId(5)).is_none());
        assert!(ring.tie_mut(AgentId(0), AgentId(5)).is_none());
        assert_eq!(ring.stored_ties(), 20);
    }

    #[test]
    fn a_million_agent_barabasi_albert_graph() {
        let (n, m) = (1_000_000, 3);
        let g = draw(GraphSpec::BarabasiAlbert { m }, n);
        // A clique of m + 1, then m per newcomer: n·m − m(m + 1)/2.
        assert_eq!(g.tie_count(), n * m - m * (m + 1) / 2);
        let mut ends = 0;
        for a in (0..n as u32).map(AgentId) {
            let ns = g.neighbours(a);
            assert!(ns.len() >= m, "{a} has {} neighbours", ns.len());
            let row = ns.as_slice().unwrap();
            assert!(
                row.windows(2).all(|w| w[0] < w[1]),
                "{a}: sorted, no pair twice"
            );
            for &b in row {
                assert!(g.tie(b, a).is_some(), "{a}–{b} seen from {b}");
            }
            ends += ns.len();
        }
        assert_eq!(ends, 2 * g.tie_count());
    }
}
