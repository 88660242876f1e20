//! [`env_chunks`]: a caller's flat buffer cut into one chunk per env, as a rayon parallel
//! iterator, for the VecEnv's outputs and the policy runner's staging.

use rayon::iter::plumbing::{Consumer, Producer, ProducerCallback, UnindexedConsumer, bridge};
use rayon::prelude::*;

/// Splits `buf` into `envs` chunks of `per_env` values, in parallel; works for `per_env == 0` too.
pub(crate) fn env_chunks<T: Send>(buf: &mut [T], per_env: usize, envs: usize) -> EnvChunks<'_, T> {
    debug_assert_eq!(buf.len(), per_env * envs);
    EnvChunks { buf, per_env, envs }
}

/// [`env_chunks`]: rayon's `par_chunks_mut`, but with `envs` empty chunks of an empty buffer. One
/// type whatever the width: zipping iterators that are each one of two types (rayon's `Either`)
/// makes rustc compile the consumer once per combination, 2^k times (it took `socium-core` minutes
/// to compile).
pub(crate) struct EnvChunks<'a, T> {
    buf: &'a mut [T],
    per_env: usize,
    envs: usize,
}

impl<'a, T: Send> ParallelIterator for EnvChunks<'a, T> {
    type Item = &'a mut [T];

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        bridge(self, consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        Some(self.envs)
    }
}

impl<T: Send> IndexedParallelIterator for EnvChunks<'_, T> {
    fn len(&self) -> usize {
        self.envs
    }

    fn drive<C: Consumer<Self::Item>>(self, consumer: C) -> C::Result {
        bridge(self, consumer)
    }

    fn with_producer<CB: ProducerCallback<Self::Item>>(self, callback: CB) -> CB::Output {
        callback.callback(self)
    }
}

impl<'a, T: Send> Producer for EnvChunks<'a, T> {
    type Item = &'a mut [T];
    type IntoIter = EnvChunks<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.buf.split_at_mut(index * self.per_env);
        let per_env = self.per_env;
        (
            EnvChunks {
                buf: left,
                per_env,
                envs: index,
            },
            EnvChunks {
                buf: right,
                per_env,
                envs: self.envs - index,
            },
        )
    }
}

impl<'a, T> Iterator for EnvChunks<'a, T> {
    type Item = &'a mut [T];

    fn next(&mut self) -> Option<Self::Item> {
        self.envs = self.envs.checked_sub(1)?;
        let (chunk, rest) = std::mem::take(&mut self.buf).split_at_mut(self.per_env);
        self.buf = rest;
        Some(chunk)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.envs, Some(self.envs))
    }
}

impl<T> DoubleEndedIterator for EnvChunks<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.envs = self.envs.checked_sub(1)?;
        let buf = std::mem::take(&mut self.buf);
        let (rest, chunk) = buf.split_at_mut(buf.len() - self.per_env);
        self.buf = rest;
        Some(chunk)
    }
}

impl<T> ExactSizeIterator for EnvChunks<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_chunks_split_any_width_alike_from_either_end_and_in_parallel() {
        for width in [0, 1, 3] {
            let mut buf: Vec<usize> = (0..5 * width).collect();
            let want: Vec<Vec<usize>> = (0..5)
                .map(|e| (e * width..(e + 1) * width).collect())
                .collect();
            let forward: Vec<Vec<usize>> =
                Iterator::map(env_chunks(&mut buf, width, 5), |c| c.to_vec()).collect();
            assert_eq!(forward, want, "width {width}");
            let mut backward: Vec<Vec<usize>> = Iterator::rev(env_chunks(&mut buf, width, 5))
                .map(|c| c.to_vec())
                .collect();
            backward.reverse();
            assert_eq!(backward, want, "width {width}, from the back");
            // Split by rayon into single chunks and written through.
            env_chunks(&mut buf, width, 5)
                .with_max_len(1)
                .enumerate()
                .for_each(|(e, chunk)| chunk.iter_mut().for_each(|x| *x = e));
            let owners: Vec<usize> = (0..5).flat_map(|e| vec![e; width]).collect();
            assert_eq!(buf, owners, "width {width}, in parallel");
            assert_eq!(ExactSizeIterator::len(&env_chunks(&mut buf, width, 5)), 5);
        }
    }
}
