//! `VecEnv`: many envs of one scenario, in blocks of envs sharing a World, stepped in parallel
//! with rayon; their rows live in flat buffers the VecEnv holds and lends out read-only
//! ([`VecEnv::outputs`]), written in place by the envs' systems.
//!
//! Env `i` is seeded `seeds[i]` (`VecEnv::seeds(master, n)` derives well-separated ones); each env
//! owns its streams and blocks share nothing, so results depend neither on the thread count nor
//! on how envs are cut into blocks. An env whose episode ended is reset by the next `step`, in the
//! same run of its block's schedule, which ignores its actions and reports zero reward
//! (Gymnasium's NEXT_STEP autoreset).

use crate::{
    AgentId, Game, SimConfig, SimError, StepError, VecBuffers,
    block::{Block, Play},
    buffers::Envs,
    derive_seed,
    env::EnvView,
    policy::{PolicyRunner, per_block},
    sim::Setup,
};
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

/// Agents a block holds at most, all envs together: the fixed cost of a run of a block's schedule
/// is shared by many envs, and each system sweeps long runs of its envs' components, which the
/// hardware prefetches. Measured on the cultural donor game at 4,096 envs (12 agents an env, one
/// thread, 2 MiB L2; docs/BENCHMARKS-LOG.md, "a sixth session"): against 4,096, blocks of 1,024
/// agents gave 1–10% fewer decisions/s and 512 gave 9–13% fewer, with or without most of the L3
/// taken by another core, although with 1,024 a block stays within a 512 KiB L2 between its
/// systems; 8,192 and 16,384 were within 4%.
const AGENTS_PER_BLOCK: usize = 4096;

/// Envs per block for `envs` envs of `agents` agents: at most [`AGENTS_PER_BLOCK`] agents a
/// block, and at least two blocks per thread, so both stay busy. Results do not depend on it.
fn block_envs(envs: usize, agents: usize) -> usize {
    let by_cache = (AGENTS_PER_BLOCK / agents.max(1)).max(1);
    let by_threads = envs.div_ceil(2 * rayon::current_num_threads()).max(1);
    by_cache.min(by_threads)
}

/// `N` envs of one game and config, stepped together.
///
/// Blocks are stepped on rayon's global pool. A step called from a thread outside the pool hands
/// itself over and sleeps until it is done, which costs a wake-up a step (about a fifth of a
/// 64-env step on a 2-core VM, docs/BENCHMARKS.md). To step from a thread of your own without
/// that cost, make it one of the pool's workers before the first `VecEnv` is built:
/// `rayon::ThreadPoolBuilder::new().use_current_thread().build_global()`, as the Python package
/// does.
pub struct VecEnv {
    setup: Setup,
    /// The blocks and every env's rows.
    envs: Envs<Vec<Block>>,
    /// Envs per block (the last may hold fewer).
    block_envs: usize,
    needs_reset: Vec<bool>,
    /// Runs the policies of all envs, if any agent has one.
    policies: Option<PolicyRunner>,
    /// The step's actions with policy agents' rows filled in (empty without policies).
    policy_actions: Vec<f32>,
}

impl VecEnv {
    /// One env of `game` per seed, env `i` seeded `seeds[i]`. Envs keep no transcript
    /// (`config.transcript` is ignored): nothing would drain it.
    pub fn new(game: &dyn Game, config: &SimConfig, seeds: &[u64]) -> Result<VecEnv, SimError> {
        let setup = Setup::new(game, config)?;
        let config = SimConfig {
            transcript: false,
            ..config.clone()
        };
        let agents = setup.agent_count;
        let block_envs = block_envs(seeds.len(), agents);
        let mut envs: Envs<Vec<Block>> =
            Envs::new(seeds.len(), agents, setup.row_dims, |windows| {
                let mut windows = windows.into_iter();
                let windows: Vec<Vec<_>> = (seeds.chunks(block_envs))
                    .map(|chunk| windows.by_ref().take(chunk.len()).collect())
                    .collect();
                (seeds.par_chunks(block_envs).zip(windows))
                    .map(|(seeds, windows)| {
                        Block::new(game, config.clone(), seeds, &setup.spaces, windows)
                    })
                    .collect()
            });
        let policies = setup.policy_groups.clone().map(|groups| {
            let mut runner = PolicyRunner::new(groups, seeds.len(), &setup.spaces, agents);
            runner.stage_all(envs.held_mut());
            runner
        });
        let needs_reset = (0..seeds.len())
            .map(|i| envs.rows().all_done(i, agents))
            .collect();
        Ok(VecEnv {
            needs_reset,
            setup,
            envs,
            block_envs,
            policies,
            policy_actions: Vec::new(),
        })
    }

    /// Number of envs.
    pub fn num_envs(&self) -> usize {
        self.needs_reset.len()
    }

    /// Env `i`: its observations, rewards, utterances and state.
    ///
    /// # Panics
    /// If there is no env `i`.
    pub fn env(&self, i: usize) -> EnvView<'_> {
        self.envs.held()[i / self.block_envs].env(i % self.block_envs)
    }

    /// Number of agents in each env.
    pub fn agent_count(&self) -> usize {
        self.setup.agent_count
    }

    /// Observation and action spaces.
    pub fn spaces(&self) -> &crate::Spaces {
        &self.setup.spaces
    }

    /// The agents an outside trainer acts for, in id order.
    pub fn external_agents(&self) -> &[AgentId] {
        &self.setup.external
    }

    /// Sets the free text external agent `agent` of env `env` sends with its next action (see
    /// `Sim::set_text`).
    ///
    /// # Panics
    /// If there is no env `env`.
    pub fn set_text(&mut self, env: usize, agent: AgentId, text: &str) -> Result<(), VecStepError> {
        self.setup
            .check_text(agent, text)
            .map_err(|error| VecStepError::Env { env, error })?;
        self.envs.held_mut()[env / self.block_envs].set_text(env % self.block_envs, agent, text);
        Ok(())
    }

    /// Drops every text set for the next step, in every env.
    pub fn clear_texts(&mut self) {
        self.envs.held_mut().iter_mut().for_each(Block::clear_texts);
    }

    /// Every env's rows as the last reset or step left them: the outputs of a step, written in
    /// place (no copy is made, and none is kept: clone what must outlive the next step).
    pub fn outputs(&self) -> &VecBuffers {
        self.envs.rows()
    }

    /// Resets every env (env `i` with `seeds[i]` when seeds are given, continuing its streams
    /// otherwise) and writes the first observations. Refused, with no env moved, if the seeds
    /// are not one an env.
    pub fn reset(&mut self, seeds: Option<&[u64]>) -> Result<(), VecStepError> {
        if let Some(seeds) = seeds.filter(|s| s.len() != self.num_envs()) {
            let (expected, found) = (self.num_envs(), seeds.len());
            return Err(VecStepError::WrongShape {
                buffer: "seeds",
                expected,
                found,
            });
        }
        self.needs_reset.fill(true);
        self.run(&[], seeds);
        Ok(())
    }

    /// The seeds `derive_seed(master, i)` of `num_envs` envs: well separated, fixed by the master
    /// seed and the index alone.
    pub fn seeds(master: u64, num_envs: usize) -> Vec<u64> {
        (0..num_envs as u64)
            .map(|i| derive_seed(master, i))
            .collect()
    }

    /// Steps every env with its slice of `actions` (`[envs × agents × action_dim]`; only external
    /// agents' rows are read); envs that finished at the previous step are reset instead. Every
    /// policy runs once for all its acting agents of all envs first. Refused as a whole, with no
    /// env moved, if `actions` has the wrong size, any env refuses its actions, or a policy fails
    /// or gives a non-finite output. The results are in [`VecEnv::outputs`].
    pub fn step(&mut self, actions: &[f32]) -> Result<(), VecStepError> {
        let per_env = self.setup.agent_count * self.setup.row_dims.actions;
        let expected = self.num_envs() * per_env;
        if actions.len() != expected {
            return Err(VecStepError::WrongShape {
                buffer: "actions",
                expected,
                found: actions.len(),
            });
        }
        if !self.setup.external.is_empty() {
            let (agents, mask_dim) = (self.setup.agent_count, self.setup.row_dims.masks);
            let rows = self.envs.rows();
            for env in (0..self.num_envs()).filter(|&e| !self.needs_reset[e]) {
                // The shape is the chunk's, and an env that is not waiting for its reset is not
                // done: only the external agents' actions are left to check.
                let chunk = &actions[env * per_env..(env + 1) * per_env];
                let external = |k: usize| {
                    let i = env * agents + self.setup.external[k].index();
                    (
                        rows.acting[i],
                        &rows.masks[i * mask_dim..(i + 1) * mask_dim],
                    )
                };
                self.setup
                    .check_external(external, chunk)
                    .map_err(|error| VecStepError::Env { env, error })?;
            }
        }
        let mut filled = std::mem::take(&mut self.policy_actions);
        let actions = match &mut self.policies {
            Some(policies) => {
                filled.clear();
                filled.extend_from_slice(actions);
                if let Err((env, error)) = policies.decide(self.envs.held_mut(), &mut filled) {
                    self.policy_actions = filled;
                    return Err(VecStepError::Env { env, error });
                }
                &filled[..]
            }
            None => actions,
        };
        self.run(actions, None);
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

    /// Runs every block once, in parallel: the envs waiting for a reset (`needs_reset`) are
    /// reset (env `i` with `seeds[i]`, if given), the others stepped with their rows of
    /// `actions`, each writing its rows in place; then stages the policies' next batches and
    /// notes which envs have finished.
    fn run(&mut self, actions: &[f32], seeds: Option<&[u64]>) {
        let (per_env, width) = (
            self.setup.agent_count * self.setup.row_dims.actions,
            self.block_envs,
        );
        let fed = &self.setup.fed;
        let notes = match &self.policies {
            Some(policies) if seeds.is_none() => policies.notes().to_vec(),
            _ => Vec::new(),
        };
        let mut slots = self.policies.as_mut().map(PolicyRunner::slots);
        let mut each = slots.as_mut().map(|s| s.each());
        let staged: Vec<_> = match &mut each {
            Some(each) => per_block(each, self.envs.held_mut())
                .into_iter()
                .map(|(block, slots)| (block, Some(slots)))
                .collect(),
            None => (self.envs.held_mut().iter_mut())
                .map(|b| (b, None))
                .collect(),
        };
        let needs_reset = &self.needs_reset;
        staged
            .into_par_iter()
            .enumerate()
            .for_each(|(b, (block, slots))| {
                let start = b * width;
                let rows = match actions {
                    [] => actions,
                    _ => &actions[start * per_env..(start + block.len()) * per_env],
                };
                let play = |j: usize| match needs_reset[start + j] {
                    true => Play::Reset {
                        seed: seeds.map(|s| s[start + j]),
                    },
                    false => Play::Step,
                };
                // This block's notes, their envs counted from its first.
                let first = notes.partition_point(|(e, _, _)| *e < start);
                let last = notes.partition_point(|(e, _, _)| *e < start + block.len());
                let mine: Vec<_> = notes[first..last]
                    .iter()
                    .map(|(e, a, note)| (e - start, *a, note.clone()))
                    .collect();
                block.run(play, rows, fed, &mine);
                if let Some(slots) = slots {
                    block.stage(slots);
                }
            });
        let agents = self.setup.agent_count;
        for (env, done) in self.needs_reset.iter_mut().enumerate() {
            *done = self.envs.rows().all_done(env, agents);
        }
        if let Some(policies) = &mut self.policies {
            policies.settle();
        }
    }
}
