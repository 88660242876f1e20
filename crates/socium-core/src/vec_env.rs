//! `VecEnv`: many Sims stepped in parallel with rayon into flat, caller-owned buffers.
//!
//! Env `i` is the Sim seeded `seeds[i]` (`VecEnv::seeds(master, n)` derives well-separated ones);
//! each Sim runs on one thread at a time and owns its streams, so results do not depend on the
//! thread count. An env
//! whose episode ended is reset by the next `step`, which ignores its actions and reports zero
//! reward (Gymnasium's NEXT_STEP autoreset).

use crate::{
    AgentId, Game, Sim, SimConfig, SimError, StepError, derive_seed, policy::PolicyRunner,
};
use rayon::iter::plumbing::{Consumer, Producer, ProducerCallback, UnindexedConsumer, bridge};
use rayon::prelude::*;

/// Why a VecEnv step was refused; no env has moved.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum VecStepError {
    /// A buffer does not have the size the VecEnv's layout needs.
    #[error("{buffer}: expected {expected} values, found {found}")]
    WrongShape {
        /// `actions`, or the name of the output buffer.
        buffer: &'static str,
        /// Values expected.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// One env refused its actions.
    #[error("env {env}: {error}")]
    Env {
        /// The env.
        env: usize,
        /// Why.
        error: StepError,
    },
}

/// The outputs of a step, as mutable views of caller-owned buffers (numpy arrays from Python, or a
/// [`VecBuffers`]); each env writes its own slices, a `VecOutputs` of one env.
pub struct VecOutputs<'a> {
    /// Observations for the coming step, `[envs × agents × obs_dim]`.
    pub obs: &'a mut [f32],
    /// Action masks for the coming step, `[envs × agents × mask_dim]` (1 = legal).
    pub masks: &'a mut [u8],
    /// Who acts at the coming step, `[envs × agents]`.
    pub acting: &'a mut [bool],
    /// Scalar rewards of the step, `[envs × agents]` (0 for an env reset by this call).
    pub rewards: &'a mut [f32],
    /// Transformed rewards per dimension, `[envs × agents × dims]`.
    pub reward_components: &'a mut [f32],
    /// Whether the game ended for the agent, `[envs × agents]`.
    pub terminated: &'a mut [bool],
    /// Whether the step limit cut the agent's episode short, `[envs × agents]`.
    pub truncated: &'a mut [bool],
}

/// Owned output buffers of the right sizes for a [`VecEnv`] (fields as in [`VecOutputs`]).
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VecBuffers {
    pub obs: Vec<f32>,
    pub masks: Vec<u8>,
    pub acting: Vec<bool>,
    pub rewards: Vec<f32>,
    pub reward_components: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
}

impl VecBuffers {
    /// Mutable views of all buffers.
    pub fn outputs(&mut self) -> VecOutputs<'_> {
        VecOutputs {
            obs: &mut self.obs,
            masks: &mut self.masks,
            acting: &mut self.acting,
            rewards: &mut self.rewards,
            reward_components: &mut self.reward_components,
            terminated: &mut self.terminated,
            truncated: &mut self.truncated,
        }
    }
}

/// Per-env sizes of the buffers.
#[derive(Clone, Copy, Debug)]
struct Layout {
    agents: usize,
    obs: usize,
    masks: usize,
    actions: usize,
    dims: usize,
}

/// `N` Sims of one game and config, stepped together.
pub struct VecEnv {
    sims: Vec<Sim>,
    needs_reset: Vec<bool>,
    layout: Layout,
    /// Runs the policies of all envs, if any agent has one.
    policies: Option<PolicyRunner>,
    /// The step's actions with policy agents' rows filled in (empty without policies).
    policy_actions: Vec<f32>,
}

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

impl VecEnv {
    /// One Sim of `game` per seed, env `i` seeded `seeds[i]`. Envs keep no transcript
    /// (`config.transcript` is ignored): nothing would drain it.
    pub fn new(game: &dyn Game, config: &SimConfig, seeds: &[u64]) -> Result<VecEnv, SimError> {
        let num_envs = seeds.len();
        let sims = seeds
            .iter()
            .map(|&seed| {
                let config = SimConfig {
                    seed,
                    transcript: false,
                    ..config.clone()
                };
                Sim::new(game, config)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let first = sims.first();
        let agents = config.agents.len();
        let layout = Layout {
            agents,
            obs: agents * first.map_or(0, |s| s.spaces().observation.flat_dim()),
            masks: agents * first.map_or(0, |s| s.spaces().action.mask_dim()),
            actions: agents * first.map_or(0, |s| s.spaces().action.flat_dim()),
            dims: agents * config.rewards.len(),
        };
        let policies = first.and_then(|s| {
            let mut runner = PolicyRunner::new(s.policy_groups()?.clone(), num_envs, s.spaces());
            runner.stage_all(sims.par_iter().map(Sim::world));
            Some(runner)
        });
        Ok(VecEnv {
            needs_reset: sims.iter().map(Sim::is_done).collect(),
            sims,
            layout,
            policies,
            policy_actions: Vec::new(),
        })
    }

    /// Number of envs.
    pub fn num_envs(&self) -> usize {
        self.sims.len()
    }

    /// The envs.
    pub fn envs(&self) -> &[Sim] {
        &self.sims
    }

    /// Sets the free text external agent `agent` of env `env` sends with its next action (see
    /// [`Sim::set_text`]).
    ///
    /// # Panics
    /// If there is no env `env`.
    pub fn set_text(&mut self, env: usize, agent: AgentId, text: &str) -> Result<(), VecStepError> {
        self.sims[env]
            .set_text(agent, text)
            .map_err(|error| VecStepError::Env { env, error })
    }

    /// Drops every text set for the next step, in every env.
    pub fn clear_texts(&mut self) {
        self.sims.iter_mut().for_each(Sim::clear_texts);
    }

    /// Output buffers of the right sizes, zeroed.
    pub fn buffers(&self) -> VecBuffers {
        let (n, l) = (self.sims.len(), self.layout);
        VecBuffers {
            obs: vec![0.0; n * l.obs],
            masks: vec![0; n * l.masks],
            acting: vec![false; n * l.agents],
            rewards: vec![0.0; n * l.agents],
            reward_components: vec![0.0; n * l.dims],
            terminated: vec![false; n * l.agents],
            truncated: vec![false; n * l.agents],
        }
    }

    /// Resets every env (env `i` with `seeds[i]` when seeds are given, continuing its streams
    /// otherwise) and writes the first observations. Refused, with no env moved, if a buffer has
    /// the wrong size.
    pub fn reset(
        &mut self,
        seeds: Option<&[u64]>,
        out: VecOutputs<'_>,
    ) -> Result<(), VecStepError> {
        if let Some(seeds) = seeds.filter(|s| s.len() != self.sims.len()) {
            let (expected, found) = (self.sims.len(), seeds.len());
            return Err(VecStepError::WrongShape {
                buffer: "seeds",
                expected,
                found,
            });
        }
        self.check_outputs(&out)?;
        self.run(out, None, |i, sim, _, _| {
            sim.reset(seeds.map(|s| s[i]));
            true
        });
        Ok(())
    }

    /// The seeds `derive_seed(master, i)` of `num_envs` envs: well separated, fixed by the master
    /// seed and the index alone.
    pub fn seeds(master: u64, num_envs: usize) -> Vec<u64> {
        (0..num_envs as u64)
            .map(|i| derive_seed(master, i))
            .collect()
    }

    /// Checks every output buffer's size against the layout.
    fn check_outputs(&self, out: &VecOutputs<'_>) -> Result<(), VecStepError> {
        let (n, l) = (self.sims.len(), self.layout);
        let sizes = [
            ("obs", out.obs.len(), l.obs),
            ("masks", out.masks.len(), l.masks),
            ("acting", out.acting.len(), l.agents),
            ("rewards", out.rewards.len(), l.agents),
            ("reward_components", out.reward_components.len(), l.dims),
            ("terminated", out.terminated.len(), l.agents),
            ("truncated", out.truncated.len(), l.agents),
        ];
        for (buffer, found, per_env) in sizes {
            if found != n * per_env {
                return Err(VecStepError::WrongShape {
                    buffer,
                    expected: n * per_env,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Steps every env with its slice of `actions` (`[envs × agents × action_dim]`; only external
    /// agents' rows are read); envs that finished at the previous step are reset instead. Every
    /// policy runs once for all its acting agents of all envs first. Refused as a whole, with no
    /// env moved, if any env refuses its actions, a policy fails or gives a non-finite output, or
    /// a buffer has the wrong size.
    pub fn step(&mut self, actions: &[f32], out: VecOutputs<'_>) -> Result<(), VecStepError> {
        let expected = self.sims.len() * self.layout.actions;
        if actions.len() != expected {
            return Err(VecStepError::WrongShape {
                buffer: "actions",
                expected,
                found: actions.len(),
            });
        }
        self.check_outputs(&out)?;
        for (env, (sim, chunk)) in self
            .sims
            .iter()
            .zip(actions.chunks(self.layout.actions.max(1)))
            .enumerate()
        {
            // The shape is the chunk's, and an env that is not waiting for its reset is not
            // done: only the external agents' actions are left to check.
            if !self.needs_reset[env] {
                sim.check_external(chunk)
                    .map_err(|error| VecStepError::Env { env, error })?;
            }
        }
        let has_policies = self.policies.is_some();
        let mut filled = std::mem::take(&mut self.policy_actions);
        if let Some(policies) = &mut self.policies {
            filled.clear();
            filled.extend_from_slice(actions);
            let decided = policies.decide(&mut self.sims, &mut filled);
            if let Err((env, error)) = decided {
                self.policy_actions = filled;
                return Err(VecStepError::Env { env, error });
            }
        }
        let actions = if has_policies { &filled[..] } else { actions };
        self.run(out, Some(actions), |_, sim, act, finished| {
            if finished {
                sim.reset(None);
            } else {
                sim.step_checked(act);
            }
            finished
        });
        self.policy_actions = filled;
        Ok(())
    }

    /// Wall time spent running policies for all envs (gathering, forward passes, selecting
    /// actions) since the VecEnv was made: with the step time, where a step's time goes.
    pub fn policy_time(&self) -> std::time::Duration {
        self.policies
            .as_ref()
            .map_or_else(Default::default, |p| p.time)
    }

    /// Every agent's action at the last step, `[envs × agents × action_dim]`, into `out` (an env
    /// reset by the last step keeps its episode's last actions).
    pub fn actions(&self, out: &mut [f32]) -> Result<(), VecStepError> {
        let expected = self.sims.len() * self.layout.actions;
        if out.len() != expected {
            return Err(VecStepError::WrongShape {
                buffer: "actions",
                expected,
                found: out.len(),
            });
        }
        for (sim, chunk) in self
            .sims
            .iter()
            .zip(out.chunks_mut(self.layout.actions.max(1)))
        {
            chunk.copy_from_slice(sim.actions());
        }
        Ok(())
    }

    /// Runs `f(index, env, its actions, whether it finished)` on every env in parallel (`f` says
    /// whether it reset the env), then copies the env's outputs into `out` and notes which envs
    /// have finished.
    fn run(
        &mut self,
        out: VecOutputs<'_>,
        actions: Option<&[f32]>,
        f: impl Fn(usize, &mut Sim, &[f32], bool) -> bool + Sync,
    ) {
        let (n, l) = (self.sims.len(), self.layout);
        let actions = actions.unwrap_or(&[]);
        // Envs without policies have no slots to stage into.
        let mut slots = self.policies.as_mut().map(PolicyRunner::slots);
        // One `Either` here compiles the pass twice; without policies no slot list is built.
        let slots = match &mut slots {
            Some(slots) => rayon::iter::Either::Left(slots.each().into_par_iter().map(Some)),
            None => rayon::iter::Either::Right((0..n).into_par_iter().map(|_| None)),
        };
        (
            self.sims.par_iter_mut(),
            slots,
            self.needs_reset.par_iter_mut(),
            env_chunks(out.obs, l.obs, n),
            env_chunks(out.masks, l.masks, n),
            env_chunks(out.acting, l.agents, n),
            env_chunks(out.rewards, l.agents, n),
            env_chunks(out.reward_components, l.dims, n),
            env_chunks(out.terminated, l.agents, n),
            env_chunks(out.truncated, l.agents, n),
        )
            .into_par_iter()
            .enumerate()
            .for_each(
                |(
                    i,
                    (sim, slot, finished, obs, masks, acting, rewards, components, term, trunc),
                )| {
                    let act = actions
                        .get(i * l.actions..(i + 1) * l.actions)
                        .unwrap_or(&[]);
                    let reset = f(i, sim, act, *finished);
                    let out = VecOutputs {
                        obs,
                        masks,
                        acting,
                        rewards,
                        reward_components: components,
                        terminated: term,
                        truncated: trunc,
                    };
                    *finished = sim.write_outputs(out, reset);
                    if let Some(mut slot) = slot {
                        slot.stage(sim.world(), *finished);
                    }
                },
            );
        if let Some(policies) = &mut self.policies {
            policies.settle();
        }
    }
}

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
