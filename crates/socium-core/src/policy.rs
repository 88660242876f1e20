//! Batched controllers: a [`Policy`] acts for every agent it controls, across every env of a
//! `VecEnv`, in one call per step.
//!
//! The kernel knows no model format: a policy maps a batch of observation rows (and their action
//! masks) to *action-head* rows ([`crate::Space::head_dim`] values each: logits for every discrete part,
//! values for every `Box` part) and, optionally, extra outputs (a belief head, say). The kernel
//! gathers the batch, checks every output is finite, turns heads into legal actions with the
//! agent's [`Selection`] (drawing from the Sim's own `policy` stream, so results never depend on
//! how envs were batched or threaded) and keeps the extras on the agent ([`PolicyExtras`]) for the
//! step's systems to read. `socium-policy` implements `Policy` for ONNX models.

use crate::vec_env::env_chunks;
use crate::{
    ActionMasks, AgentId, AgentSpec, Controller, Observations, Sim, SimRng, Spaces, StepError, Turn,
};
use bevy_ecs::{resource::Resource, world::World};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

/// A controller that acts for a batch of agents at once.
pub trait Policy: Send + Sync {
    /// Name in errors and tables (an ONNX policy's file).
    fn name(&self) -> &str;
    /// Names and widths of the extra outputs a forward pass writes, in order.
    fn extras(&self) -> &[(String, usize)];
    /// Runs the model on `batch.rows` rows; writes every head and extra row. An error fails the
    /// step before anything moved.
    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), String>;
}

/// One forward pass: inputs and the output buffers to fill, all row-major with `rows` rows.
pub struct PolicyBatch<'a> {
    /// Number of rows.
    pub rows: usize,
    /// Observations, `[rows × obs_dim]`.
    pub obs: &'a [f32],
    /// Action masks, `[rows × mask_dim]` (1 = legal).
    pub masks: &'a [u8],
    /// The action heads to write, `[rows × head_dim]`.
    pub head: &'a mut [f32],
    /// The extra outputs to write, `[rows × Σ extra widths]`, each row the extras in order.
    pub extras: &'a mut [f32],
}

/// How a policy's action head becomes an action.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selection {
    /// The legal choice with the highest logit (the lowest index among ties).
    Argmax,
    /// A draw from `softmax(logits / temperature)` over the legal choices.
    Sample {
        /// Temperature, > 0.
        temperature: f32,
    },
}

/// An agent driven by a [`Policy`]; agents sharing one `Arc` share one forward pass per step.
#[derive(Clone)]
pub struct PolicyController {
    /// The model.
    pub policy: Arc<dyn Policy>,
    /// How its head becomes this agent's action.
    pub selection: Selection,
}

impl PartialEq for PolicyController {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.policy, &other.policy) && self.selection == other.selection
    }
}

impl fmt::Debug for PolicyController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyController")
            .field("policy", &self.policy.name())
            .field("selection", &self.selection)
            .finish()
    }
}

/// The extra outputs of each policy agent's last forward pass, by name (zeros before the first).
#[derive(Resource, Debug, Default)]
pub struct PolicyExtras {
    per_agent: Vec<Vec<(String, Vec<f32>)>>,
}

impl PolicyExtras {
    pub(crate) fn new(agents: &[AgentSpec]) -> Self {
        let per_agent = agents
            .iter()
            .map(|a| match &a.controller {
                Controller::Policy(p) => p
                    .policy
                    .extras()
                    .iter()
                    .map(|(name, width)| (name.clone(), vec![0.0; *width]))
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        PolicyExtras { per_agent }
    }

    /// Agent `a`'s extra output `name`, if its policy has one.
    pub fn get(&self, a: AgentId, name: &str) -> Option<&[f32]> {
        let outputs = self.per_agent.get(a.index())?;
        outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn set(&mut self, a: AgentId, mut row: &[f32]) {
        for (_, values) in &mut self.per_agent[a.index()] {
            let (head, rest) = row.split_at(values.len());
            values.copy_from_slice(head);
            row = rest;
        }
    }
}

/// The agents of one policy.
pub(crate) struct Group {
    policy: Arc<dyn Policy>,
    agents: Vec<(AgentId, Selection)>,
    extras_dim: usize,
}

/// `agents`' policies, each with the agents that share it (in id order), or `None` when no
/// agent has one.
pub(crate) fn groups(agents: &[AgentSpec]) -> Option<Arc<[Group]>> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, spec) in agents.iter().enumerate() {
        let Controller::Policy(p) = &spec.controller else {
            continue;
        };
        let member = (AgentId(i as u32), p.selection);
        match groups
            .iter_mut()
            .find(|g| Arc::ptr_eq(&g.policy, &p.policy))
        {
            Some(g) => g.agents.push(member),
            None => groups.push(Group {
                extras_dim: p.policy.extras().iter().map(|(_, w)| w).sum(),
                policy: p.policy.clone(),
                agents: vec![member],
            }),
        }
    }
    (!groups.is_empty()).then(|| groups.into())
}

/// The inputs of every policy for the coming step of a set of Sims of one config, in one
/// contiguous arena with a fixed slot per Sim: for each policy, the acting members with their
/// observation and mask rows. A slot is written right after its Sim is stepped, by the thread that
/// stepped it, while the world is still in that thread's cache; gathering a batch is then a
/// strided sweep over the arena, with no pointers to follow from Sim to Sim (following them cost
/// a chain of cache misses per Sim, most of the gathering time at 1024 envs).
struct Staging {
    /// Rows of a slot: the policy agents of a Sim, policy by policy.
    slot_rows: usize,
    /// Where each policy's rows start in a slot.
    bases: Vec<usize>,
    obs_dim: usize,
    mask_dim: usize,
    /// Rows each Sim staged for each policy, `[sims × policies]`.
    counts: Vec<usize>,
    /// `[sims × slot_rows]`, each with its observation row in `obs` and mask row in `masks`.
    members: Vec<(AgentId, Selection)>,
    obs: Vec<f32>,
    masks: Vec<u8>,
}

impl Staging {
    fn new(groups: &[Group], sims: usize, spaces: &Spaces) -> Self {
        let bases = groups
            .iter()
            .scan(0, |base, g| {
                let start = *base;
                *base += g.agents.len();
                Some(start)
            })
            .collect();
        let slot_rows = groups.iter().map(|g| g.agents.len()).sum();
        let (obs_dim, mask_dim) = (spaces.observation.flat_dim(), spaces.action.mask_dim());
        Staging {
            slot_rows,
            bases,
            obs_dim,
            mask_dim,
            counts: vec![0; sims * groups.len()],
            members: vec![(AgentId(0), Selection::Argmax); sims * slot_rows],
            obs: vec![0.0; sims * slot_rows * obs_dim],
            masks: vec![0; sims * slot_rows * mask_dim],
        }
    }

    /// What Sim `sim` staged for policy `group`: members, observation rows, mask rows.
    fn staged(&self, sim: usize, group: usize) -> (&[(AgentId, Selection)], &[f32], &[u8]) {
        let start = sim * self.slot_rows + self.bases[group];
        let end = start + self.counts[sim * self.bases.len() + group];
        (
            &self.members[start..end],
            &self.obs[start * self.obs_dim..end * self.obs_dim],
            &self.masks[start * self.mask_dim..end * self.mask_dim],
        )
    }

    /// Sim `sim`'s slot.
    fn slot<'a>(&'a mut self, groups: &'a [Group], sim: usize) -> Slot<'a> {
        let (rows, (od, md)) = (
            self.slot_rows * sim..self.slot_rows * (sim + 1),
            (self.obs_dim, self.mask_dim),
        );
        Slot {
            groups,
            counts: &mut self.counts[groups.len() * sim..groups.len() * (sim + 1)],
            members: &mut self.members[rows.clone()],
            obs: &mut self.obs[rows.start * od..rows.end * od],
            masks: &mut self.masks[rows.start * md..rows.end * md],
        }
    }

    /// Every Sim's slot, in Sim order.
    fn slots<'a>(
        &'a mut self,
        groups: &'a [Group],
    ) -> impl IndexedParallelIterator<Item = Slot<'a>> {
        let (rows, sims) = (self.slot_rows, self.counts.len() / groups.len());
        (
            self.counts.par_chunks_mut(groups.len()),
            self.members.par_chunks_mut(rows),
            env_chunks(&mut self.obs, rows * self.obs_dim, sims),
            env_chunks(&mut self.masks, rows * self.mask_dim, sims),
        )
            .into_par_iter()
            .map(move |(counts, members, obs, masks)| Slot {
                groups,
                counts,
                members,
                obs,
                masks,
            })
    }
}

/// One Sim's slot of the staging arena.
pub(crate) struct Slot<'a> {
    groups: &'a [Group],
    counts: &'a mut [usize],
    members: &'a mut [(AgentId, Selection)],
    obs: &'a mut [f32],
    masks: &'a mut [u8],
}

impl Slot<'_> {
    /// Stages every policy's acting members, with their rows, from `world`.
    pub(crate) fn stage(&mut self, world: &World) {
        let obs = &world.resource::<Observations>().0;
        let masks = &world.resource::<ActionMasks>().0;
        let acting = world.resource::<Turn>().acting();
        let (od, md) = (obs.dim(), masks.dim());
        let mut row = 0;
        for (g, count) in self.groups.iter().zip(self.counts.iter_mut()) {
            let base = row;
            for &(a, selection) in g.agents.iter().filter(|(a, _)| acting[a.index()]) {
                self.members[row] = (a, selection);
                self.obs[row * od..(row + 1) * od].copy_from_slice(obs.row(a));
                self.masks[row * md..(row + 1) * md].copy_from_slice(masks.row(a));
                row += 1;
            }
            *count = row - base;
            row = base + g.agents.len();
        }
    }
}

/// Runs every policy once per step over a slice of Sims of one config: gather the Sims' staged
/// inputs, one forward pass per policy, check, select, scatter. Gathering and selecting run in
/// parallel over the Sims (each Sim's rows are contiguous in the batch); selecting touches a
/// Sim's world only to sample from its `policy` stream or keep extras. Scratch buffers are kept
/// between steps.
pub(crate) struct PolicyRunner {
    groups: Arc<[Group]>,
    staging: Staging,
    /// `offsets[e]..offsets[e + 1]` are env `e`'s rows.
    offsets: Vec<usize>,
    obs: Vec<f32>,
    masks: Vec<u8>,
    head: Vec<f32>,
    extras: Vec<f32>,
    /// Wall time spent in `decide` so far.
    pub(crate) time: Duration,
}

/// Envs per rayon task when selecting: a few rows each is too little work to split further.
const MIN_ENVS_PER_TASK: usize = 64;

/// Splits `buf` into consecutive chunks of `width ×` the row counts `offsets` delimits.
fn split_rows<'a, T>(mut buf: &'a mut [T], offsets: &[usize], width: usize) -> Vec<&'a mut [T]> {
    offsets
        .windows(2)
        .map(|w| {
            let (chunk, rest) = std::mem::take(&mut buf).split_at_mut((w[1] - w[0]) * width);
            buf = rest;
            chunk
        })
        .collect()
}

impl PolicyRunner {
    /// A runner for `sims` Sims with these policies and spaces.
    pub(crate) fn new(groups: Arc<[Group]>, sims: usize, spaces: &Spaces) -> Self {
        PolicyRunner {
            staging: Staging::new(&groups, sims, spaces),
            groups,
            offsets: Vec::new(),
            obs: Vec::new(),
            masks: Vec::new(),
            head: Vec::new(),
            extras: Vec::new(),
            time: Duration::ZERO,
        }
    }

    /// Every Sim's slot of the staging arena, in Sim order, to stage into after stepping it.
    pub(crate) fn slots(&mut self) -> impl IndexedParallelIterator<Item = Slot<'_>> {
        self.staging.slots(&self.groups)
    }

    /// Stages Sim `sim`'s inputs from its `world`.
    pub(crate) fn stage(&mut self, sim: usize, world: &World) {
        self.staging.slot(&self.groups, sim).stage(world);
    }

    /// Writes the action of every acting policy agent of every env `e` with `active(e)` into its
    /// row of `actions` (`[envs × agents × action_dim]`), one forward pass per policy, from the
    /// inputs each Sim last staged. On error (a failed pass, a non-finite output) nothing in any
    /// Sim has changed.
    pub(crate) fn decide(
        &mut self,
        sims: &mut [Sim],
        active: impl Fn(usize) -> bool + Sync,
        actions: &mut [f32],
    ) -> Result<(), (usize, StepError)> {
        let start = Instant::now();
        let decided =
            (0..self.groups.len()).try_for_each(|g| self.decide_group(g, sims, &active, actions));
        self.time += start.elapsed();
        decided
    }

    fn decide_group(
        &mut self,
        group: usize,
        sims: &mut [Sim],
        active: &(impl Fn(usize) -> bool + Sync),
        actions: &mut [f32],
    ) -> Result<(), (usize, StepError)> {
        let Some(first) = sims.first() else {
            return Ok(());
        };
        let g = &self.groups[group];
        let space = first.spaces().action.clone();
        let (obs_dim, mask_dim) = (first.spaces().observation.flat_dim(), space.mask_dim());
        let (head_dim, action_dim) = (space.head_dim(), space.flat_dim());
        let per_env = first.agent_count() * action_dim;
        let staging = &self.staging;
        // Each env's staged members, none for an env that is not stepping.
        let members = |e: usize| match active(e) {
            true => staging.staged(e, group).0,
            false => &[],
        };
        self.offsets.clear();
        self.offsets.push(0);
        for e in 0..sims.len() {
            self.offsets.push(self.offsets[e] + members(e).len());
        }
        let rows = self.offsets[sims.len()];
        if rows == 0 {
            return Ok(());
        }
        self.obs.resize(rows * obs_dim, 0.0);
        self.masks.resize(rows * mask_dim, 0);
        self.head.resize(rows * head_dim, 0.0);
        self.extras.resize(rows * g.extras_dim, 0.0);
        let (obs, masks, head, extras) = (
            &mut self.obs[..rows * obs_dim],
            &mut self.masks[..rows * mask_dim],
            &mut self.head[..rows * head_dim],
            &mut self.extras[..rows * g.extras_dim],
        );
        // One sweep over the arena on this thread, which runs the forward pass next and so finds
        // the batch in its cache (handing the copy to rayon measured slower: the other worker's
        // wake-up costs more than half the copy saves).
        let offsets = &self.offsets;
        for (e, rows) in offsets.windows(2).enumerate().filter(|(_, r)| r[0] < r[1]) {
            let (_, o, m) = staging.staged(e, group);
            obs[rows[0] * obs_dim..rows[1] * obs_dim].copy_from_slice(o);
            masks[rows[0] * mask_dim..rows[1] * mask_dim].copy_from_slice(m);
        }

        let name = || g.policy.name().to_owned();
        let env_of = |row: usize| offsets.partition_point(|&o| o <= row) - 1;
        let agent_of = |row: usize| {
            let e = env_of(row);
            (e, members(e)[row - offsets[e]].0)
        };
        let batch = PolicyBatch {
            rows,
            obs,
            masks,
            head,
            extras,
        };
        g.policy.forward(batch).map_err(|message| {
            let error = StepError::PolicyFailed {
                policy: name(),
                message,
            };
            (env_of(0), error)
        })?;
        // Every check before the first draw, so a refusal leaves every stream untouched.
        let bad = |values: &[f32], width: usize| {
            let i = values.iter().position(|v| !v.is_finite())?;
            Some((i / width, i % width, values[i]))
        };
        let found = match bad(&self.head[..rows * head_dim], head_dim) {
            Some((row, entry, value)) => {
                Some((row, format!("action head entry {entry} is {value}")))
            }
            None => bad(&self.extras[..rows * g.extras_dim], g.extras_dim.max(1)).map(
                |(row, entry, value)| (row, format!("extra outputs entry {entry} is {value}")),
            ),
        };
        if let Some((row, message)) = found {
            let (env, agent) = agent_of(row);
            let error = StepError::PolicyOutput {
                policy: name(),
                agent,
                message,
            };
            return Err((env, error));
        }

        let space = &space;
        let samples = g
            .agents
            .iter()
            .any(|(_, s)| matches!(s, Selection::Sample { .. }));
        if !samples && g.extras_dim == 0 {
            // Nothing of the Sims is needed: one plain pass over the rows beats a parallel one.
            for (e, rows) in offsets.windows(2).enumerate() {
                for (r, &(a, selection)) in (rows[0]..rows[1]).zip(members(e)) {
                    let start = e * per_env + a.index() * action_dim;
                    space.select(
                        &self.head[r * head_dim..(r + 1) * head_dim],
                        &self.masks[r * mask_dim..(r + 1) * mask_dim],
                        selection,
                        None,
                        &mut actions[start..start + action_dim],
                    );
                }
            }
            return Ok(());
        }
        (
            sims.par_iter_mut(),
            actions.par_chunks_mut(per_env.max(1)),
            split_rows(&mut self.head[..rows * head_dim], offsets, head_dim),
            split_rows(
                &mut self.extras[..rows * g.extras_dim],
                offsets,
                g.extras_dim,
            ),
            split_rows(&mut self.masks[..rows * mask_dim], offsets, mask_dim),
        )
            .into_par_iter()
            .enumerate()
            .with_min_len(MIN_ENVS_PER_TASK)
            .map(|(e, parts)| (members(e), parts))
            .filter(|(members, _)| !members.is_empty())
            .for_each(|(members, (sim, actions, heads, extras, masks))| {
                let mut select_all = |mut rng: Option<&mut ChaCha8Rng>| {
                    for (r, &(a, selection)) in members.iter().enumerate() {
                        let i = a.index();
                        let head = &heads[r * head_dim..(r + 1) * head_dim];
                        let mask = &masks[r * mask_dim..(r + 1) * mask_dim];
                        let out = &mut actions[i * action_dim..(i + 1) * action_dim];
                        let rng = rng.as_deref_mut().map(|r| r as &mut dyn RngCore);
                        space.select(head, mask, selection, rng, out);
                    }
                };
                // Argmax and Box values need no randomness: the Sim's world is left alone.
                match samples {
                    true => select_all(Some(&mut sim.world_mut().resource_mut::<SimRng>().policy)),
                    false => select_all(None),
                }
                if g.extras_dim > 0 {
                    let world = sim.world_mut();
                    let mut kept = world.resource_mut::<PolicyExtras>();
                    for (r, &(a, _)) in members.iter().enumerate() {
                        kept.set(a, &extras[r * g.extras_dim..(r + 1) * g.extras_dim]);
                    }
                }
            });
        Ok(())
    }
}
