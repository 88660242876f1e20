//! The goods on the table of Deal or No Deal (Lewis et al. 2017, "Deal or No Deal? End-to-End
//! Learning for Negotiation Dialogues", arXiv 1706.05125): 3 item types (book, hat, ball), each
//! 1..4 of them, 5..7 items in all; each side values every type privately at 0..10 so that the
//! whole pool is worth exactly 10 to it. [`draw`] draws a deal uniformly: the counts among the
//! legal count vectors, then each side's values among the value vectors legal for those counts.
//!
//! An allocation is what one side keeps of each type (the other side takes the rest); offers
//! name it by an index into a fixed table of every `(k0, k1, k2)` with `k ≤ 4`
//! ([`ALLOCATIONS`]), so that the action space does not change with the counts.

use rand::Rng;
use std::sync::OnceLock;

/// Item types.
pub const ITEMS: usize = 3;
/// The item types' names, singular and plural.
pub const ITEM_NAMES: [(&str, &str); ITEMS] =
    [("book", "books"), ("hat", "hats"), ("ball", "balls")];
/// The most items of one type.
pub const MAX_COUNT: u8 = 4;
/// What the whole pool is worth to each side.
pub const POOL_VALUE: u32 = 10;
/// The most a side may value one item.
pub const MAX_VALUE: u8 = 10;
/// Allocations in the offer table: every `(k0, k1, k2)` with each `k ≤ MAX_COUNT`.
pub const ALLOCATIONS: usize = (MAX_COUNT as usize + 1).pow(ITEMS as u32);

/// Counts or values of the three item types.
pub type Triple = [u8; ITEMS];

/// One deal: the pool and both sides' private values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deal {
    /// How many of each type are on the table.
    pub counts: Triple,
    /// What one item of each type is worth to each side.
    pub values: [Triple; 2],
}

impl Deal {
    /// What `keep` (a subset of the pool) is worth to `side`.
    pub fn worth(&self, side: usize, keep: Triple) -> u32 {
        (0..ITEMS)
            .map(|i| u32::from(keep[i]) * u32::from(self.values[side][i]))
            .sum()
    }

    /// The items left when `keep` is taken from the pool.
    pub fn rest(&self, keep: Triple) -> Triple {
        std::array::from_fn(|i| self.counts[i] - keep[i])
    }

    /// Whether `keep` is a subset of the pool.
    pub fn fits(&self, keep: Triple) -> bool {
        (0..ITEMS).all(|i| keep[i] <= self.counts[i])
    }

    /// Every allocation of the pool, as what side 0 keeps.
    pub fn allocations(&self) -> impl Iterator<Item = Triple> + '_ {
        (0..ALLOCATIONS).map(allocation).filter(|&k| self.fits(k))
    }

    /// Whether side 0 keeping `keep` (side 1 taking the rest) is Pareto-optimal: no allocation
    /// gives one side more and the other no less.
    pub fn pareto_optimal(&self, keep: Triple) -> bool {
        let (a, b) = (self.worth(0, keep), self.worth(1, self.rest(keep)));
        !self.allocations().any(|k| {
            let (x, y) = (self.worth(0, k), self.worth(1, self.rest(k)));
            x >= a && y >= b && (x > a || y > b)
        })
    }
}

/// The allocation at `index` of the offer table.
pub fn allocation(index: usize) -> Triple {
    let base = MAX_COUNT as usize + 1;
    [
        (index / (base * base)) as u8,
        (index / base % base) as u8,
        (index % base) as u8,
    ]
}

/// The index of `keep` in the offer table.
pub fn allocation_index(keep: Triple) -> usize {
    let base = MAX_COUNT as usize + 1;
    (keep[0] as usize * base + keep[1] as usize) * base + keep[2] as usize
}

/// Every legal pool, with every value vector legal for it.
struct Pools(Vec<(Triple, Vec<Triple>)>);

fn pools() -> &'static Pools {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    POOLS.get_or_init(|| {
        let range = 1..=MAX_COUNT;
        let mut pools = Vec::new();
        for c0 in range.clone() {
            for c1 in range.clone() {
                for c2 in range.clone() {
                    let counts = [c0, c1, c2];
                    let total: u8 = counts.iter().sum();
                    if (5..=7).contains(&total) {
                        pools.push((counts, value_vectors(counts)));
                    }
                }
            }
        }
        Pools(pools)
    })
}

/// Every value vector (each 0..=10) under which `counts` is worth exactly [`POOL_VALUE`].
fn value_vectors(counts: Triple) -> Vec<Triple> {
    let mut out = Vec::new();
    for v0 in 0..=MAX_VALUE {
        for v1 in 0..=MAX_VALUE {
            for v2 in 0..=MAX_VALUE {
                let v = [v0, v1, v2];
                let worth: u32 = (0..ITEMS).map(|i| u32::from(counts[i] * v[i])).sum();
                if worth == POOL_VALUE {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// A deal drawn as Lewis et al.'s generator does: counts uniform among the legal pools, each
/// side's values uniform among the vectors legal for those counts, independently.
pub fn draw(rng: &mut impl Rng) -> Deal {
    let pools = &pools().0;
    let (counts, vectors) = &pools[rng.random_range(0..pools.len())];
    let mut value = || vectors[rng.random_range(0..vectors.len())];
    Deal {
        counts: *counts,
        values: [value(), value()],
    }
}

/// "3 books, 1 hat and 2 balls" (types of count 0 left out; "nothing" for none).
pub fn describe(items: Triple) -> String {
    let parts: Vec<String> = (0..ITEMS)
        .filter(|&i| items[i] > 0)
        .map(|i| {
            let (one, many) = ITEM_NAMES[i];
            format!("{} {}", items[i], if items[i] == 1 { one } else { many })
        })
        .collect();
    match parts.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::{HashMap, HashSet};

    /// Every legal `(counts, values)` of one side.
    fn support() -> impl Iterator<Item = (Triple, Triple)> {
        pools()
            .0
            .iter()
            .flat_map(|(c, vs)| vs.iter().map(move |v| (*c, *v)))
    }

    /// Lewis et al.'s constraints hold on 100,000 draws, every legal `(counts, values)` of
    /// either side occurs (the support has 28 pools and 438 pairs; the rarest pair has
    /// probability 1/28 × 1/(most vectors of a pool), so 100,000 draws meet it dozens of times),
    /// and the pools are drawn uniformly (each count within 5 standard deviations of 1/28).
    #[test]
    fn draws_meet_lewis_constraints_and_cover_every_combination() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let support: HashSet<(Triple, Triple)> = support().collect();
        assert_eq!(support.len(), 438);
        assert_eq!(pools().0.len(), 28);
        let mut seen = HashSet::new();
        let mut pools_drawn: HashMap<Triple, u32> = HashMap::new();
        for _ in 0..100_000 {
            let deal = draw(&mut rng);
            *pools_drawn.entry(deal.counts).or_default() += 1;
            let total: u8 = deal.counts.iter().sum();
            assert!((5..=7).contains(&total), "{deal:?}");
            assert!(deal.counts.iter().all(|c| (1..=4).contains(c)), "{deal:?}");
            for side in 0..2 {
                assert!(deal.values[side].iter().all(|&v| v <= 10), "{deal:?}");
                assert_eq!(deal.worth(side, deal.counts), 10, "{deal:?}");
                seen.insert((deal.counts, deal.values[side]));
            }
        }
        assert_eq!(seen, support);
        let (p, n) = (1.0 / 28.0, 100_000.0);
        let sd: f64 = n * p * (1.0 - p);
        for (pool, &k) in &pools_drawn {
            let z = (f64::from(k) - n * p) / sd.sqrt();
            assert!(z.abs() < 5.0, "pool {pool:?}: drawn {k} times, z = {z}");
        }
    }

    #[test]
    fn allocation_table_round_trips() {
        for i in 0..ALLOCATIONS {
            assert_eq!(allocation_index(allocation(i)), i);
        }
        assert_eq!(allocation(allocation_index([4, 0, 3])), [4, 0, 3]);
    }

    #[test]
    fn pareto_optimality() {
        // Side 0 wants only books, side 1 only balls: books to 0, balls to 1, hats anywhere.
        let deal = Deal {
            counts: [2, 2, 2],
            values: [[5, 0, 0], [0, 0, 5]],
        };
        assert!(deal.pareto_optimal([2, 0, 0]));
        assert!(deal.pareto_optimal([2, 2, 0]));
        assert!(!deal.pareto_optimal([1, 0, 0]));
        assert!(!deal.pareto_optimal([2, 0, 1]));
    }

    #[test]
    fn describes_items() {
        assert_eq!(describe([3, 1, 0]), "3 books and 1 hat");
        assert_eq!(describe([1, 2, 2]), "1 book, 2 hats and 2 balls");
        assert_eq!(describe([0, 0, 0]), "nothing");
    }
}
