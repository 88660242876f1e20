//! The kernel's per-agent rows of every env (observations, masks, actions, acting flags, the
//! step's rewards, done flags), held in flat buffers, one a kind for all the envs of a `Sim` or a
//! `VecEnv`, and the windows through which each env's components use its part of them.
//!
//! Why: a VecEnv's outputs are these rows, `[envs × agents × ...]`. Kept in each env's components
//! and copied into the caller's buffers after every step, they were touched twice a step; at
//! thousands of envs, out of cache, the copies' destinations were about 12 of the 83 cache lines
//! an env-step brought from memory (docs/BENCHMARKS-LOG.md). Kept here, they are written once,
//! where the caller reads them: Python takes them as numpy arrays without a copy.
//!
//! The windows are the crate's one use of `unsafe`: [`Envs`] owns the buffers and what holds the
//! windows together, so that the memory outlives them, and lends the buffers out only while no
//! window can be written through.
#![allow(unsafe_code, reason = "the windows: see the module's doc")]

use std::{fmt, ptr::NonNull};

/// What holds a set of envs (`T`: a block, or a `VecEnv`'s blocks) and the buffers of those envs'
/// rows, together: the envs' components use the buffers through windows, which never leave `T`.
pub(crate) struct Envs<T> {
    held: T,
    rows: VecBuffers,
}

impl<T> Envs<T> {
    /// `envs` envs of `agents` agents: zeroed rows, and `make` given each env's windows (in env
    /// order) to build what holds them.
    pub(crate) fn new(
        envs: usize,
        agents: usize,
        dims: RowDims,
        make: impl FnOnce(Vec<EnvWindows>) -> T,
    ) -> Envs<T> {
        let mut rows = VecBuffers::new(envs, agents, dims);
        // SAFETY: `Envs` keeps the buffers as they are (never grown, shrunk or written but
        // through the windows) for as long as `held`, where the windows go, and lends the
        // buffers out only through `&self`, when no window can be written through.
        let windows = unsafe { rows.windows(envs) };
        Envs {
            held: make(windows),
            rows,
        }
    }

    /// The envs' rows as their last run left them.
    pub(crate) fn rows(&self) -> &VecBuffers {
        &self.rows
    }

    /// What holds the envs.
    pub(crate) fn held(&self) -> &T {
        &self.held
    }

    /// What holds the envs, to run them.
    pub(crate) fn held_mut(&mut self) -> &mut T {
        &mut self.held
    }
}

/// Every env's rows, `[envs × agents × ...]` each, as the last reset or step left them. A
/// [`crate::VecEnv`] holds one for all its envs and lends it out read-only
/// ([`crate::VecEnv::outputs`]); a clone is a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VecBuffers {
    /// Observations for the coming step, `[envs × agents × obs_dim]`.
    pub obs: Vec<f32>,
    /// Action masks for the coming step, `[envs × agents × mask_dim]` (1 = legal).
    pub masks: Vec<u8>,
    /// Who acts at the coming step, `[envs × agents]`.
    pub acting: Vec<bool>,
    /// Scalar rewards of the step, `[envs × agents]` (0 for an env reset by it).
    pub rewards: Vec<f32>,
    /// Transformed rewards per dimension, `[envs × agents × dims]` (0 for an env reset by it).
    pub reward_components: Vec<f32>,
    /// Whether the game ended for the agent, `[envs × agents]`.
    pub terminated: Vec<bool>,
    /// Whether the step limit cut the agent's episode short, `[envs × agents]`.
    pub truncated: Vec<bool>,
    /// Every agent's action at the last step, `[envs × agents × action_dim]` (an env reset by the
    /// step keeps its episode's last actions; the rows of agents that did not act are stale).
    pub actions: Vec<f32>,
}

/// Values per agent in each kind of row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RowDims {
    pub(crate) obs: usize,
    pub(crate) masks: usize,
    pub(crate) actions: usize,
    pub(crate) rewards: usize,
}

/// One env's part of every buffer of a [`VecBuffers`].
pub(crate) struct EnvWindows {
    pub(crate) obs: Window<f32>,
    pub(crate) masks: Window<u8>,
    pub(crate) acting: Window<bool>,
    pub(crate) rewards: Window<f32>,
    pub(crate) reward_components: Window<f32>,
    pub(crate) terminated: Window<bool>,
    pub(crate) truncated: Window<bool>,
    pub(crate) actions: Window<f32>,
}

impl VecBuffers {
    /// Zeroed buffers for `envs` envs of `agents` agents.
    pub(crate) fn new(envs: usize, agents: usize, dims: RowDims) -> VecBuffers {
        let rows = envs * agents;
        VecBuffers {
            obs: vec![0.0; rows * dims.obs],
            masks: vec![0; rows * dims.masks],
            acting: vec![false; rows],
            rewards: vec![0.0; rows],
            reward_components: vec![0.0; rows * dims.rewards],
            terminated: vec![false; rows],
            truncated: vec![false; rows],
            actions: vec![0.0; rows * dims.actions],
        }
    }

    /// Each of `envs` envs' windows, in env order.
    ///
    /// # Safety
    /// The windows point into these buffers' heap memory. Until the last of them is dropped, the
    /// buffers must not be dropped, grown or shrunk, and must not be read while a window is being
    /// written through, nor written at all except through the windows.
    unsafe fn windows(&mut self, envs: usize) -> Vec<EnvWindows> {
        fn cut<T>(buf: &mut Vec<T>, envs: usize, env: usize) -> Window<T> {
            let len = buf.len() / envs.max(1);
            // `as_mut_ptr` materialises no reference to the buffer, so the windows stay valid
            // beside later reads of it (its documented aliasing guarantee).
            let start = buf.as_mut_ptr().wrapping_add(env * len);
            Window {
                start: NonNull::new(start).expect("a Vec's pointer is never null"),
                len,
            }
        }
        (0..envs)
            .map(|e| EnvWindows {
                obs: cut(&mut self.obs, envs, e),
                masks: cut(&mut self.masks, envs, e),
                acting: cut(&mut self.acting, envs, e),
                rewards: cut(&mut self.rewards, envs, e),
                reward_components: cut(&mut self.reward_components, envs, e),
                terminated: cut(&mut self.terminated, envs, e),
                truncated: cut(&mut self.truncated, envs, e),
                actions: cut(&mut self.actions, envs, e),
            })
            .collect()
    }

    /// Whether every agent of env `env` is done (terminated or truncated).
    pub(crate) fn all_done(&self, env: usize, agents: usize) -> bool {
        let rows = env * agents..(env + 1) * agents;
        self.terminated[rows.clone()]
            .iter()
            .zip(&self.truncated[rows])
            .all(|(t, u)| *t || *u)
    }
}

/// One env's part of a buffer of a [`VecBuffers`], which its component reads and writes as a
/// slice. Made only by [`VecBuffers::windows`], whose contract [`Envs`] keeps; no two windows
/// overlap, and none is cloned.
pub(crate) struct Window<T> {
    start: NonNull<T>,
    len: usize,
}

// SAFETY: a window is the only way to its part of the buffer (`VecBuffers::windows`' contract),
// like a `&mut [T]` that the World holding it carries from thread to thread.
unsafe impl<T: Send> Send for Window<T> {}
// SAFETY: as above: shared, it only reads.
unsafe impl<T: Sync> Sync for Window<T> {}

impl<T> std::ops::Deref for Window<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `VecBuffers::windows`' contract keeps the memory alive, initialised and
        // unaliased by writes.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl<T> std::ops::DerefMut for Window<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the window.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl<T: fmt::Debug> fmt::Debug for Window<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_env_writes_its_own_part() {
        let dims = RowDims {
            obs: 2,
            masks: 0,
            actions: 1,
            rewards: 3,
        };
        let mut envs = Envs::new(3, 2, dims, |windows| windows);
        for (e, w) in envs.held_mut().iter_mut().enumerate() {
            assert_eq!(
                (w.obs.len(), w.masks.len(), w.reward_components.len()),
                (4, 0, 6)
            );
            w.obs.fill(e as f32);
            w.terminated[1] = e == 1;
            w.truncated[0] = e == 1;
        }
        let rows = envs.rows();
        assert_eq!(rows.obs, [0., 0., 0., 0., 1., 1., 1., 1., 2., 2., 2., 2.]);
        assert_eq!(
            (0..3).map(|e| rows.all_done(e, 2)).collect::<Vec<_>>(),
            [false, true, false]
        );
    }
}
