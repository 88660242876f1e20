//! Seeded randomness: one ChaCha stream per purpose, per Sim.
//!
//! Every random draw in a Sim comes from [`SimRng`], a component of each env holding one ChaCha8
//! stream per purpose. Streams share the key derived from the seed and differ in their ChaCha
//! stream number, so adding draws for one purpose (say, more observers) never shifts the draws of
//! another (say, the rules' chance moves, such as who meets whom). There is no global or
//! thread-local rng anywhere in the engine: the same seed gives the same run whatever the thread
//! count.

use crate::Window;
use bevy_ecs::component::Component;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::{Deref, DerefMut};

/// The random streams of one Sim, one per purpose. Each is a [`Stream`]: it draws, and reads, as
/// the `ChaCha8Rng` it holds.
#[derive(Component, Debug)]
pub struct SimRng {
    /// Drawing the social graph.
    pub graph: Stream,
    /// The rules' chance moves (game theory's moves by chance): who meets whom and in which
    /// order, the deal of roles, items, boards and opening values, how long a match lasts, how a
    /// tied vote falls.
    pub chance: Stream,
    /// Choices of scripted and random controllers.
    pub decide: Stream,
    /// Execution and assessment errors (noise in the rules).
    pub noise: Stream,
    /// Who observes what (incomplete information).
    pub observe: Stream,
    /// Actions sampled from policies' heads.
    pub policy: Stream,
}

/// Purposes: the streams of a [`SimRng`], ChaCha stream numbers 1 to 6 in field order.
const PURPOSES: usize = 6;

impl SimRng {
    /// All streams of a Sim seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Self::split(1).remove(0);
        rng.reseed(seed);
        rng
    }

    /// The streams of `count` envs, to be seeded ([`SimRng::reseed`]): each purpose's in a
    /// block-wide array of its own, so that a system drawing from one purpose in every env
    /// walks one array ([`crate::Window`]'s doc says why; measured in docs/BENCHMARKS-LOG.md,
    /// "a ninth session").
    pub(crate) fn split(count: usize) -> Vec<SimRng> {
        let mut arrays: Vec<_> = (0..PURPOSES)
            .map(|_| Window::split(ChaCha8Rng::seed_from_u64(0), 1, count).into_iter())
            .collect();
        let mut next = |p: usize| Stream(arrays[p].next().expect("one window an env"));
        (0..count)
            .map(|_| SimRng {
                graph: next(0),
                chance: next(1),
                decide: next(2),
                noise: next(3),
                observe: next(4),
                policy: next(5),
            })
            .collect()
    }

    /// Restarts every stream from `seed`: streams share the key derived from it and differ in
    /// their ChaCha stream number.
    pub(crate) fn reseed(&mut self, seed: u64) {
        let streams = [
            &mut self.graph,
            &mut self.chance,
            &mut self.decide,
            &mut self.noise,
            &mut self.observe,
            &mut self.policy,
        ];
        for (n, stream) in (1..).zip(streams) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(n);
            **stream = rng;
        }
    }
}

/// One purpose's ChaCha8 stream of an env: a window of a block-wide array of that purpose's
/// streams (a Sim's own array of one). It reads as the generator it holds, and draws as it (rand's
/// `RngCore` for any `DerefMut` to one).
#[derive(Debug)]
pub struct Stream(Window<ChaCha8Rng>);

impl Deref for Stream {
    type Target = ChaCha8Rng;

    #[inline]
    fn deref(&self) -> &ChaCha8Rng {
        &self.0[0]
    }
}

impl DerefMut for Stream {
    #[inline]
    fn deref_mut(&mut self) -> &mut ChaCha8Rng {
        &mut self.0[0]
    }
}

/// The seed of the `index`-th child of `master` (SplitMix64 finaliser over both).
///
/// Used to give every env of a `VecEnv` (and every run of a batch) its own well-separated seed that
/// depends only on the master seed and the index, never on scheduling.
pub fn derive_seed(master: u64, index: u64) -> u64 {
    let mut z = master ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        let x: u64 = a.chance.random();
        // Draws on one stream leave the others untouched.
        let _: u64 = b.decide.random();
        assert_eq!(x, b.chance.random::<u64>());
        assert_ne!(
            SimRng::new(7).graph.random::<u64>(),
            SimRng::new(7).chance.random::<u64>()
        );
        assert_ne!(
            SimRng::new(7).graph.random::<u64>(),
            SimRng::new(8).graph.random::<u64>()
        );
    }

    #[test]
    fn derived_seeds_differ_by_index_and_master() {
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
    }

    #[test]
    fn derive_seed_is_splitmix64() {
        // Index 0 of master 0 is SplitMix64's first output from state 0 (Steele, Lea & Flood
        // 2014; Vigna's reference splitmix64.c): 0xe220a8397b1dcdaf.
        assert_eq!(derive_seed(0, 0), 0xe220_a839_7b1d_cdaf);
    }
}
