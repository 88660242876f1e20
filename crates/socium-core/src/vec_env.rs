//! `VecEnv`: many envs of one scenario, in blocks of envs sharing a World, stepped in parallel
//! with rayon into flat, caller-owned buffers.
//!
//! Env `i` is seeded `seeds[i]` (`VecEnv::seeds(master, n)` derives well-separated ones); each env
//! owns its streams and blocks share nothing, so results depend neither on the thread count nor
//! on how envs are cut into blocks. An env whose episode ended is reset by the next `step`, in the
//! same run of its block's schedule, which ignores its actions and reports zero reward
//! (Gymnasium's NEXT_STEP autoreset).

use crate::{
    AgentId, Game, SimConfig, SimError, StepError,
    block::{Block, Play},
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

/// Agents a block holds at most, all envs together: the fixed cost of a run of a block's schedule
/// is shared by many envs, and each system sweeps long runs of its envs' components, which the
/// hardware prefetches, while a block's state (a few hundred bytes to a few kilobytes an agent)
/// stays within the L3 cache across the systems of one run. Measured on the cultural donor game
/// (12 agents an env, one thread, 2 MiB L2 and 32 MiB L3; docs/BENCHMARKS.md): against 1,024
/// agents, 4,096 gave 13% more decisions/s at 4,096 envs and 3% at 1,024, 256 gave a quarter
/// less, 16,384 no more.
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
    blocks: Vec<Block>,
    /// Envs per block (the last may hold fewer).
    block_envs: usize,
    needs_reset: Vec<bool>,
    layout: Layout,
    /// Runs the policies of all envs, if any agent has one.
    policies: Option<PolicyRunner>,
    /// The step's actions with policy agents' rows filled in (empty without policies).
    policy_actions: Vec<f32>,
    /// What the external agents' next actions are checked against.
    external_rows: ExternalRows,
}

/// The external agents' acting flags (`[envs × external]`) and mask rows (`[envs × external ×
/// mask_dim]`) as the last run left them, written while each block's outputs are (its state is
/// in cache then) and kept apart from the caller's buffers, which the caller may write to: at
/// thousands of envs, reading them back from each env's state before a step cost a tenth of it.
struct ExternalRows {
    external: usize,
    mask_dim: usize,
    acting: Vec<bool>,
    masks: Vec<u8>,
}

impl ExternalRows {
    /// The rows cut into one part per block of `envs[b]` envs, for the external `agents`.
    fn parts<'a>(&'a mut self, agents: &'a [AgentId], envs: &[usize]) -> Vec<ExternalRowsMut<'a>> {
        let (x, mask_dim) = (self.external, self.mask_dim);
        let (mut acting, mut masks) = (&mut self.acting[..], &mut self.masks[..]);
        envs.iter()
            .map(|&n| {
                let (a, rest) = std::mem::take(&mut acting).split_at_mut(n * x);
                acting = rest;
                let (m, rest) = std::mem::take(&mut masks).split_at_mut(n * x * mask_dim);
                masks = rest;
                ExternalRowsMut {
                    agents,
                    mask_dim,
                    acting: a,
                    masks: m,
                }
            })
            .collect()
    }

    /// External agent `k` of env `env`: its acting flag and mask row.
    fn get(&self, env: usize, k: usize) -> (bool, &[u8]) {
        let i = env * self.external + k;
        (
            self.acting[i],
            &self.masks[i * self.mask_dim..(i + 1) * self.mask_dim],
        )
    }
}

/// One block's part of [`ExternalRows`], and the external agents.
pub(crate) struct ExternalRowsMut<'a> {
    agents: &'a [AgentId],
    mask_dim: usize,
    acting: &'a mut [bool],
    masks: &'a mut [u8],
}

impl ExternalRowsMut<'_> {
    /// Writes env `j`'s rows (of the block) from its agents' acting flags and masks
    /// (`[agents × mask_dim]`).
    pub(crate) fn write(&mut self, j: usize, acting: &[bool], masks: &[u8]) {
        let (x, md) = (self.agents.len(), self.mask_dim);
        for (k, &a) in self.agents.iter().enumerate() {
            let (i, m) = (j * x + k, a.index() * md);
            self.acting[i] = acting[a.index()];
            self.masks[i * md..(i + 1) * md].copy_from_slice(&masks[m..m + md]);
        }
    }
}

/// Cuts each output buffer into one part per block of `envs[b]` envs.
fn per_block_outputs<'a>(out: VecOutputs<'a>, envs: &[usize], l: Layout) -> Vec<VecOutputs<'a>> {
    let VecOutputs {
        mut obs,
        mut masks,
        mut acting,
        mut rewards,
        mut reward_components,
        mut terminated,
        mut truncated,
    } = out;
    fn cut<'a, T>(buf: &mut &'a mut [T], n: usize) -> &'a mut [T] {
        let (head, tail) = std::mem::take(buf).split_at_mut(n);
        *buf = tail;
        head
    }
    envs.iter()
        .map(|&n| VecOutputs {
            obs: cut(&mut obs, n * l.obs),
            masks: cut(&mut masks, n * l.masks),
            acting: cut(&mut acting, n * l.agents),
            rewards: cut(&mut rewards, n * l.agents),
            reward_components: cut(&mut reward_components, n * l.dims),
            terminated: cut(&mut terminated, n * l.agents),
            truncated: cut(&mut truncated, n * l.agents),
        })
        .collect()
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
        let mut blocks: Vec<Block> = seeds
            .par_chunks(block_envs)
            .map(|seeds| Block::new(game, config.clone(), seeds, &setup.spaces))
            .collect();
        let layout = Layout {
            agents,
            obs: agents * setup.spaces.observation.flat_dim(),
            masks: agents * setup.spaces.action.mask_dim(),
            actions: agents * setup.spaces.action.flat_dim(),
            dims: agents * config.rewards.len(),
        };
        let policies = setup.policy_groups.clone().map(|groups| {
            let mut runner = PolicyRunner::new(groups, seeds.len(), &setup.spaces, agents);
            runner.stage_all(&mut blocks);
            runner
        });
        let (external, mask_dim) = (setup.external.len(), setup.spaces.action.mask_dim());
        let mut external_rows = ExternalRows {
            external,
            mask_dim,
            acting: vec![false; seeds.len() * external],
            masks: vec![0; seeds.len() * external * mask_dim],
        };
        let sizes: Vec<usize> = blocks.iter().map(Block::len).collect();
        let parts = external_rows.parts(&setup.external, &sizes);
        for (block, mut rows) in blocks.iter().zip(parts) {
            for j in 0..block.len() {
                let env = block.env(j);
                rows.write(j, env.acting(), env.action_masks());
            }
        }
        let mut env = VecEnv {
            needs_reset: vec![false; seeds.len()],
            setup,
            blocks,
            block_envs,
            layout,
            policies,
            policy_actions: Vec::new(),
            external_rows,
        };
        env.needs_reset = (0..seeds.len()).map(|i| env.env(i).is_done()).collect();
        Ok(env)
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
        self.blocks[i / self.block_envs].env(i % self.block_envs)
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
        self.blocks[env / self.block_envs].set_text(env % self.block_envs, agent, text);
        Ok(())
    }

    /// Drops every text set for the next step, in every env.
    pub fn clear_texts(&mut self) {
        self.blocks.iter_mut().for_each(Block::clear_texts);
    }

    /// Output buffers of the right sizes, zeroed.
    pub fn buffers(&self) -> VecBuffers {
        let (n, l) = (self.num_envs(), self.layout);
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
        if let Some(seeds) = seeds.filter(|s| s.len() != self.num_envs()) {
            let (expected, found) = (self.num_envs(), seeds.len());
            return Err(VecStepError::WrongShape {
                buffer: "seeds",
                expected,
                found,
            });
        }
        self.check_outputs(&out)?;
        self.needs_reset.fill(true);
        self.run(out, &[], seeds);
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
        let (n, l) = (self.num_envs(), self.layout);
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
        let expected = self.num_envs() * self.layout.actions;
        if actions.len() != expected {
            return Err(VecStepError::WrongShape {
                buffer: "actions",
                expected,
                found: actions.len(),
            });
        }
        self.check_outputs(&out)?;
        if !self.setup.external.is_empty() {
            let per_env = self.layout.actions;
            for env in (0..self.num_envs()).filter(|&e| !self.needs_reset[e]) {
                // The shape is the chunk's, and an env that is not waiting for its reset is not
                // done: only the external agents' actions are left to check.
                let chunk = &actions[env * per_env..(env + 1) * per_env];
                self.setup
                    .check_external(|k| self.external_rows.get(env, k), chunk)
                    .map_err(|error| VecStepError::Env { env, error })?;
            }
        }
        let mut filled = std::mem::take(&mut self.policy_actions);
        let actions = match &mut self.policies {
            Some(policies) => {
                filled.clear();
                filled.extend_from_slice(actions);
                if let Err((env, error)) = policies.decide(&mut self.blocks, &mut filled) {
                    self.policy_actions = filled;
                    return Err(VecStepError::Env { env, error });
                }
                &filled[..]
            }
            None => actions,
        };
        self.run(out, actions, None);
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
        let expected = self.num_envs() * self.layout.actions;
        if out.len() != expected {
            return Err(VecStepError::WrongShape {
                buffer: "actions",
                expected,
                found: out.len(),
            });
        }
        for (i, chunk) in out.chunks_mut(self.layout.actions.max(1)).enumerate() {
            chunk.copy_from_slice(self.env(i).actions());
        }
        Ok(())
    }

    /// Runs every block once, in parallel: the envs waiting for a reset (`needs_reset`) are
    /// reset (env `i` with `seeds[i]`, if given), the others stepped with their rows of
    /// `actions`; then copies every env's outputs into `out` (rewards zeroed where it was reset),
    /// notes which envs have finished, and stages the policies' next batches.
    fn run(&mut self, out: VecOutputs<'_>, actions: &[f32], seeds: Option<&[u64]>) {
        let (l, width) = (self.layout, self.block_envs);
        let sizes: Vec<usize> = self.blocks.iter().map(Block::len).collect();
        let outs = per_block_outputs(out, &sizes, l);
        let fed = &self.setup.fed;
        let notes = match &self.policies {
            Some(policies) if seeds.is_none() => policies.notes().to_vec(),
            _ => Vec::new(),
        };
        let mut slots = self.policies.as_mut().map(PolicyRunner::slots);
        let mut each = slots.as_mut().map(|s| s.each());
        let staged: Vec<_> = match &mut each {
            Some(each) => per_block(each, &mut self.blocks)
                .into_iter()
                .map(|(block, slots)| (block, Some(slots)))
                .collect(),
            None => self.blocks.iter_mut().map(|b| (b, None)).collect(),
        };
        let finished = self.needs_reset.chunks_mut(width);
        let external = self.external_rows.parts(&self.setup.external, &sizes);
        ((staged, outs), (finished.collect::<Vec<_>>(), external))
            .into_par_iter()
            .enumerate()
            .for_each(|(b, (((block, slots), out), (finished, external)))| {
                let start = b * width;
                let rows = match actions {
                    [] => actions,
                    _ => &actions[start * l.actions..(start + block.len()) * l.actions],
                };
                let play = |j: usize| match finished[j] {
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
                block.write_outputs(out, finished, slots, external);
            });
        if let Some(policies) = &mut self.policies {
            policies.settle();
        }
    }
}
