//! Batched controllers: a [`Policy`] acts for every agent it controls, across every env of a
//! `VecEnv`, in one call per step.
//!
//! The kernel knows no model format: a policy maps a batch of observation rows (and their action
//! masks) to *action-head* rows ([`crate::Space::head_dim`] values each: logits for every
//! discrete part, values for every `Box` part) and, optionally, extra outputs (a belief head,
//! say). The kernel builds the batch (see `Staging`), checks every output is finite, turns heads
//! into legal actions with the agent's [`Selection`] (drawing from the Sim's own `policy`
//! stream, so results never depend on how envs were batched or threaded) and keeps the extras on
//! the agent ([`PolicyExtras`]) for the step's systems to read. `socium-policy` implements
//! `Policy` for ONNX models.

use crate::{
    AgentId, AgentSpec, Controller, Note, SimRng, Space, Spaces, StepError, block::Block, env::Rows,
};
use bevy_ecs::component::Component;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

/// Why a forward pass failed: a message, and the row whose decision failed where one did (its
/// env and agent are then named in the step's error).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyError {
    /// The failing row of the batch, if the failure is one row's (a row past the batch is taken
    /// as the whole pass's failure).
    pub row: Option<usize>,
    /// What went wrong.
    pub message: String,
}

impl PolicyError {
    /// Row `row`'s decision failed.
    pub fn at_row(row: usize, message: impl Into<String>) -> Self {
        PolicyError {
            row: Some(row),
            message: message.into(),
        }
    }
}

/// The whole pass failed.
impl From<String> for PolicyError {
    fn from(message: String) -> Self {
        PolicyError { row: None, message }
    }
}

/// The whole pass failed.
impl From<&str> for PolicyError {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

/// A controller that acts for a batch of agents at once.
pub trait Policy: Send + Sync {
    /// Name in errors and tables (an ONNX policy's file).
    fn name(&self) -> &str;
    /// Names and widths of the extra outputs a forward pass writes, in order.
    fn extras(&self) -> &[(String, usize)];
    /// Runs the model on `batch.rows` rows; writes every head and extra row. An error fails the
    /// step before anything moved.
    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError>;
    /// Whether the policy reads its agents' memory ([`PolicyBatch::memory`], kept through
    /// [`Note::Remember`]); none is gathered for one that does not.
    fn remembers(&self) -> bool {
        false
    }
    /// The width of the recurrent state the policy carries for each agent (0: none). A
    /// recurrent policy has an extra output [`NEXT_STATE`] of this width, and each pass reads
    /// it back as [`PolicyBatch::state`].
    fn state_width(&self) -> usize {
        0
    }
}

/// The extra output of a recurrent policy that is its agent's state at its next pass
/// ([`Policy::state_width`]).
pub const NEXT_STATE: &str = "next_state";

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
    /// Each row's agent and how its head becomes its action.
    pub members: &'a [(AgentId, Selection)],
    /// Env `e` of the envs the policy acts in has rows `offsets[e]..offsets[e + 1]`.
    pub offsets: &'a [usize],
    /// Env `e`'s seed, that of its last seeded reset: which env asks, the same whatever the
    /// thread count, for a policy that keeps its own record of each env's requests (a language
    /// model's cache, whose recorded failures each go back to the env that met them).
    pub seeds: &'a [u64],
    /// Notes the policy adds, by row: a text an agent says, the fault that made its act the
    /// default one, or what to remember (empty when the pass begins). A note for a row past
    /// `rows` refuses the step ([`StepError::PolicyFailed`]).
    pub notes: &'a mut Vec<(usize, Note)>,
    /// Each row's memory: what the policy last kept for its agent this episode
    /// ([`Note::Remember`]; empty at the episode's start). One per row for a policy that
    /// [`remembers`](Policy::remembers), none otherwise.
    pub memory: &'a [&'a str],
    /// Each row's recurrent state, `[rows × state_width]`: its agent's [`NEXT_STATE`] output of
    /// its last pass this episode, zeros before the first (an agent that does not act keeps
    /// its state). Empty for a policy without one ([`Policy::state_width`]).
    pub state: &'a [f32],
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

/// The extra outputs of each policy agent's last forward pass in the episode, by name (zeros
/// before the first), and what its policy keeps for it over the episode ([`Note::Remember`]).
#[derive(Component, Clone, Debug, Default)]
pub struct PolicyExtras {
    /// The policy agents that have extras, in id order, each with its outputs by name.
    by_agent: Vec<(AgentId, Vec<NamedOutput>)>,
    /// Each agent's memory, by id; empty (no allocation) until a policy keeps something.
    memory: Vec<String>,
}

/// An extra output's name and its values.
type NamedOutput = (String, Vec<f32>);

impl PolicyExtras {
    pub(crate) fn new(agents: &[AgentSpec]) -> Self {
        let by_agent = (agents.iter().enumerate())
            .filter_map(|(i, a)| match &a.controller {
                Controller::Policy(p) if !p.policy.extras().is_empty() => {
                    let outputs = p.policy.extras().iter();
                    let outputs = outputs.map(|(name, width)| (name.clone(), vec![0.0; *width]));
                    Some((AgentId(i as u32), outputs.collect()))
                }
                _ => None,
            })
            .collect();
        PolicyExtras {
            by_agent,
            memory: Vec::new(),
        }
    }

    /// What agent `a`'s policy kept for it this episode (empty before it keeps anything).
    pub fn memory(&self, a: AgentId) -> &str {
        self.memory.get(a.index()).map_or("", String::as_str)
    }

    /// Makes `text` agent `a`'s memory (`agents` agents in the env).
    pub(crate) fn remember(&mut self, a: AgentId, agents: usize, text: &str) {
        if self.memory.is_empty() {
            self.memory.resize(agents, String::new());
        }
        let memory = &mut self.memory[a.index()];
        memory.clear();
        memory.push_str(text);
    }

    fn outputs(&self, a: AgentId) -> Option<&[NamedOutput]> {
        let i = self.by_agent.binary_search_by_key(&a, |(b, _)| *b).ok()?;
        Some(&self.by_agent[i].1)
    }

    /// Agent `a`'s extra output `name`, if its policy has one.
    pub fn get(&self, a: AgentId, name: &str) -> Option<&[f32]> {
        let outputs = self.outputs(a)?;
        outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Zeros and no memory, as before any pass (at a reset).
    pub(crate) fn clear(&mut self) {
        for (_, outputs) in &mut self.by_agent {
            outputs.iter_mut().for_each(|(_, values)| values.fill(0.0));
        }
        self.memory.clear();
    }

    fn set(&mut self, a: AgentId, mut row: &[f32]) {
        let Ok(i) = self.by_agent.binary_search_by_key(&a, |(b, _)| *b) else {
            return;
        };
        for (_, values) in &mut self.by_agent[i].1 {
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

/// One policy's batch for the coming step: the acting members of every Sim, with their
/// observation and mask rows, Sim after Sim.
#[derive(Default)]
struct Batch {
    /// `offsets[e]..offsets[e + 1]` are Sim `e`'s rows.
    offsets: Vec<usize>,
    members: Vec<(AgentId, Selection)>,
    obs: Vec<f32>,
    masks: Vec<u8>,
}

impl Batch {
    fn rows(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Sets the row counts and sizes the buffers for them.
    fn lay_out(&mut self, counts: impl Iterator<Item = usize>, obs_dim: usize, mask_dim: usize) {
        self.offsets.clear();
        self.offsets.push(0);
        for count in counts {
            self.offsets.push(self.rows() + count);
        }
        let rows = self.rows();
        self.members.resize(rows, (AgentId(0), Selection::Argmax));
        self.obs.resize(rows * obs_dim, 0.0);
        self.masks.resize(rows * mask_dim, 0);
    }
}

/// Where every policy's batch is built. Each Sim stages its acting policy agents' rows right after
/// it is stepped, by the thread that stepped it, while its world is hot: straight into its place
/// in the batch, laid out for as many rows as the Sim staged last time. A Sim that stages a
/// different number (a reset, a death) writes into its own fixed slot of a side arena instead,
/// and [`Staging::settle`] then lays the batch out anew; in a steady state the batch is ready
/// when the last Sim is, with no copy between staging and the forward pass (gathering the rows
/// afterwards cost about a tenth of the forward pass of a small MLP at 1024 envs).
struct Staging {
    batches: Vec<Batch>,
    /// Where [`Staging::settle`] lays a batch out anew, swapped with it.
    spare: Batch,
    /// Rows of a side slot: the policy agents of a Sim, policy by policy.
    slot_rows: usize,
    /// Where each policy's rows start in a side slot.
    bases: Vec<usize>,
    obs_dim: usize,
    mask_dim: usize,
    /// Rows each Sim staged for each policy, `[sims × policies]`.
    counts: Vec<usize>,
    /// The side arena, `[sims × slot_rows]`.
    members: Vec<(AgentId, Selection)>,
    obs: Vec<f32>,
    masks: Vec<u8>,
}

/// The rows `(members, obs, masks)` of one Sim for one policy.
type StagedRows<'a> = (&'a mut [(AgentId, Selection)], &'a mut [f32], &'a mut [u8]);

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
        let mut batches: Vec<Batch> = groups.iter().map(|_| Batch::default()).collect();
        for b in &mut batches {
            b.lay_out((0..sims).map(|_| 0), obs_dim, mask_dim);
        }
        Staging {
            batches,
            spare: Batch::default(),
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

    fn sims(&self) -> usize {
        self.counts.len() / self.batches.len()
    }

    /// Every Sim's place in each batch, and its side slot, cut apart for one pass over the Sims.
    fn slots<'a>(&'a mut self, groups: &'a [Group]) -> Slots<'a> {
        let (sims, od, md) = (self.sims(), self.obs_dim, self.mask_dim);
        let mut cut: Vec<_> = self
            .batches
            .iter_mut()
            .map(|b| {
                let o = &b.offsets;
                split_rows(&mut b.members, o, 1)
                    .into_iter()
                    .zip(split_rows(&mut b.obs, o, od))
                    .zip(split_rows(&mut b.masks, o, md))
                    .map(|((m, o), k)| (m, o, k))
            })
            .collect();
        // Regrouped Sim by Sim.
        let mut placed = Vec::with_capacity(sims * groups.len());
        for _ in 0..sims {
            placed.extend(cut.iter_mut().map(|c| c.next().expect("one part per Sim")));
        }
        Slots {
            groups,
            bases: &self.bases,
            counts: &mut self.counts,
            placed,
            side: (&mut self.members, &mut self.obs, &mut self.masks),
            slot_rows: self.slot_rows,
            obs_dim: od,
            mask_dim: md,
        }
    }

    /// Lays out anew every batch in which some Sim staged a different number of rows than it
    /// had room for, moving each Sim's rows from wherever they were staged.
    fn settle(&mut self) {
        let (groups, sims) = (self.batches.len(), self.sims());
        let (od, md) = (self.obs_dim, self.mask_dim);
        for g in 0..groups {
            let batch = &self.batches[g];
            let count = |e: usize| self.counts[e * groups + g];
            let fits = |e: usize| batch.offsets[e + 1] - batch.offsets[e] == count(e);
            if (0..sims).all(fits) {
                continue;
            }
            self.spare.lay_out((0..sims).map(count), od, md);
            let spare = &mut self.spare;
            for e in 0..sims {
                let to = spare.offsets[e]..spare.offsets[e + 1];
                let (from, members, obs, masks) = if fits(e) {
                    let r = batch.offsets[e];
                    (r..r + to.len(), &batch.members, &batch.obs, &batch.masks)
                } else {
                    let r = e * self.slot_rows + self.bases[g];
                    (r..r + to.len(), &self.members, &self.obs, &self.masks)
                };
                spare.members[to.clone()].copy_from_slice(&members[from.clone()]);
                spare.obs[to.start * od..to.end * od]
                    .copy_from_slice(&obs[from.start * od..from.end * od]);
                spare.masks[to.start * md..to.end * md]
                    .copy_from_slice(&masks[from.start * md..from.end * md]);
            }
            std::mem::swap(&mut self.batches[g], &mut self.spare);
        }
    }
}

/// Every Sim's place in each batch, and its side slot (see [`Staging`]).
pub(crate) struct Slots<'a> {
    groups: &'a [Group],
    bases: &'a [usize],
    counts: &'a mut [usize],
    /// `[sims × policies]`: each Sim's rows in each batch, as many as it staged last time.
    placed: Vec<StagedRows<'a>>,
    /// The side arena.
    side: StagedRows<'a>,
    slot_rows: usize,
    obs_dim: usize,
    mask_dim: usize,
}

impl<'a> Slots<'a> {
    /// Each Sim's slot, in Sim order.
    pub(crate) fn each(&mut self) -> Vec<Slot<'_, 'a>> {
        let (groups, bases, g) = (self.groups, self.bases, self.groups.len());
        let sims = self.placed.len() / g;
        let rows = self.slot_rows;
        let side = (
            uniform_chunks(self.side.0, rows, sims),
            uniform_chunks(self.side.1, rows * self.obs_dim, sims),
            uniform_chunks(self.side.2, rows * self.mask_dim, sims),
        );
        self.counts
            .chunks_mut(g)
            .zip(self.placed.chunks_mut(g))
            .zip(Iterator::zip(Iterator::zip(side.0, side.1), side.2))
            .map(|((counts, placed), ((m, o), k))| Slot {
                groups,
                bases,
                counts,
                placed,
                side: (m, o, k),
            })
            .collect()
    }
}

/// One Sim's place in each batch, and its side slot.
pub(crate) struct Slot<'s, 'a> {
    groups: &'s [Group],
    bases: &'s [usize],
    counts: &'s mut [usize],
    placed: &'s mut [StagedRows<'a>],
    side: StagedRows<'s>,
}

impl Slot<'_, '_> {
    /// Stages every policy's acting members, with their rows of the env's observations and
    /// masks; none for an env whose episode is over (its next step is a reset).
    pub(crate) fn stage(&mut self, obs: &Rows<f32>, masks: &Rows<u8>, acting: &[bool], over: bool) {
        let (od, md) = (obs.dim(), masks.dim());
        for (g, group) in self.groups.iter().enumerate() {
            let members = || {
                group
                    .agents
                    .iter()
                    .filter(|(a, _)| !over && acting[a.index()])
            };
            let count = members().count();
            self.counts[g] = count;
            let (m, o, k, base) = if self.placed[g].0.len() == count {
                let p = &mut self.placed[g];
                (&mut *p.0, &mut *p.1, &mut *p.2, 0)
            } else {
                let s = &mut self.side;
                (&mut *s.0, &mut *s.1, &mut *s.2, self.bases[g])
            };
            for (row, &(a, selection)) in (base..).zip(members()) {
                m[row] = (a, selection);
                o[row * od..(row + 1) * od].copy_from_slice(obs.row(a));
                k[row * md..(row + 1) * md].copy_from_slice(masks.row(a));
            }
        }
    }
}

/// Runs every policy once per step over a slice of Sims of one config: one forward pass per
/// policy on the batch the Sims staged (see [`Staging`]), check, select, scatter. Selecting
/// touches a Sim's world only to sample from its `policy` stream or keep extras. Scratch buffers
/// are kept between steps.
pub(crate) struct PolicyRunner {
    groups: Arc<[Group]>,
    /// The action space, and agents per env.
    space: Space,
    agents: usize,
    staging: Staging,
    /// Each policy's outputs of its last pass, kept until every pass of the step is checked.
    outputs: Vec<PassOutputs>,
    /// The notes of the last `decide`, by env (in env order) and agent.
    notes: Vec<(usize, AgentId, Note)>,
    /// Every env's seed, as the last `decide` read them from the blocks, in env order: a
    /// buffer kept from step to step rather than a new one a step.
    seeds: Vec<u64>,
    /// Wall time spent in `decide` so far.
    pub(crate) time: Duration,
}

/// One forward pass's outputs, `[rows × head_dim]` and `[rows × Σ extra widths]`.
#[derive(Default)]
struct PassOutputs {
    head: Vec<f32>,
    extras: Vec<f32>,
}

/// Envs per rayon task when selecting: a few rows each is too little work to split further.
const MIN_ENVS_PER_TASK: usize = 64;

/// The offsets `0, n0, n0 + n1, ...` of consecutive runs of the given lengths.
pub(crate) fn envs_to_offsets(lengths: &[usize]) -> Vec<usize> {
    std::iter::once(0)
        .chain(lengths.iter().scan(0, |total, n| {
            *total += n;
            Some(*total)
        }))
        .collect()
}

/// Each block with its envs' slots, for one parallel pass over the blocks.
pub(crate) fn per_block<'b, 's, 'x, 'a>(
    slots: &'s mut [Slot<'x, 'a>],
    blocks: &'b mut [Block],
) -> Vec<(&'b mut Block, &'s mut [Slot<'x, 'a>])> {
    let mut rest = slots;
    blocks
        .iter_mut()
        .map(|block| {
            let (mine, others) = std::mem::take(&mut rest).split_at_mut(block.len());
            rest = others;
            (block, mine)
        })
        .collect()
}

/// `buf` cut into `n` consecutive chunks of `width` values (`width` may be 0, unlike
/// `chunks_exact_mut`).
fn uniform_chunks<T>(mut buf: &mut [T], width: usize, n: usize) -> impl Iterator<Item = &mut [T]> {
    (0..n).map(move |_| {
        let (chunk, rest) = std::mem::take(&mut buf).split_at_mut(width);
        buf = rest;
        chunk
    })
}

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

/// Each row's memory in `batch`, read from its env in `blocks`.
fn memories<'b>(batch: &Batch, blocks: &'b [Block]) -> Vec<&'b str> {
    let mut rows = Vec::with_capacity(batch.rows());
    let mut env = 0;
    for block in blocks {
        for j in 0..block.len() {
            let members = &batch.members[batch.offsets[env]..batch.offsets[env + 1]];
            let extras = block.extras(j);
            rows.extend(members.iter().map(|&(a, _)| extras.memory(a)));
            env += 1;
        }
    }
    rows
}

/// Each row's recurrent state in `batch` (`width` values a row), read from its env in `blocks`:
/// the agent's [`NEXT_STATE`] output of its last pass this episode, zeros before the first.
fn states(batch: &Batch, blocks: &[Block], width: usize) -> Vec<f32> {
    let mut rows = Vec::with_capacity(batch.rows() * width);
    let mut env = 0;
    for block in blocks {
        for j in 0..block.len() {
            let members = &batch.members[batch.offsets[env]..batch.offsets[env + 1]];
            let extras = block.extras(j);
            for &(a, _) in members {
                match extras.get(a, NEXT_STATE) {
                    Some(state) => rows.extend_from_slice(state),
                    None => rows.resize(rows.len() + width, 0.0),
                }
            }
            env += 1;
        }
    }
    rows
}

/// Notes of a pass, `(env, agent, note)`.
type PassNotes = Vec<(usize, AgentId, Note)>;

/// Runs policy `g`'s forward pass on its `batch` into `out` and checks the outputs and notes,
/// touching no env: the pass's notes, or the env and why the step is refused.
fn forward(
    g: &Group,
    batch: &Batch,
    seeds: &[u64],
    (memory, state): &(Vec<&str>, Vec<f32>),
    space: &Space,
    out: &mut PassOutputs,
) -> Result<PassNotes, (usize, StepError)> {
    let head_dim = space.head_dim();
    let rows = batch.rows();
    if rows == 0 {
        return Ok(Vec::new());
    }
    out.head.resize(rows * head_dim, 0.0);
    out.extras.resize(rows * g.extras_dim, 0.0);
    let offsets = &batch.offsets;
    let name = || g.policy.name().to_owned();
    let env_of = |row: usize| offsets.partition_point(|&o| o <= row) - 1;
    let mut notes = Vec::new();
    let pass = PolicyBatch {
        rows,
        obs: &batch.obs,
        masks: &batch.masks,
        head: &mut out.head[..rows * head_dim],
        extras: &mut out.extras[..rows * g.extras_dim],
        members: &batch.members[..rows],
        offsets,
        seeds,
        notes: &mut notes,
        memory,
        state,
    };
    g.policy.forward(pass).map_err(|e| {
        let row = e.row.filter(|&r| r < rows);
        let message = match row {
            Some(r) => format!("{}: {}", batch.members[r].0, e.message),
            None => e.message,
        };
        let error = StepError::PolicyFailed {
            policy: name(),
            message,
        };
        (env_of(row.unwrap_or(0)), error)
    })?;
    if let Some((row, _)) = notes.iter().find(|(row, _)| *row >= rows) {
        let message = format!("it wrote a note for row {row} of a batch of {rows} rows");
        let error = StepError::PolicyFailed {
            policy: name(),
            message,
        };
        return Err((env_of(0), error));
    }
    let bad = |values: &[f32], width: usize| {
        let i = values.iter().position(|v| !v.is_finite())?;
        Some((i / width, i % width, values[i]))
    };
    let found = match bad(&out.head[..rows * head_dim], head_dim) {
        Some((row, entry, value)) => Some((row, format!("action head entry {entry} is {value}"))),
        None => bad(&out.extras[..rows * g.extras_dim], g.extras_dim.max(1))
            .map(|(row, entry, value)| (row, format!("extra outputs entry {entry} is {value}"))),
    };
    let max_text = space.max_text();
    let too_long = notes.iter().find_map(|(row, note)| match note {
        Note::Text(text) => {
            let chars = text.chars().count();
            let message = match max_text {
                None => "a text, where the action space takes none".to_owned(),
                Some(max) if chars > max as usize => {
                    format!("a text of {chars} characters, expected at most {max}")
                }
                Some(_) => return None,
            };
            Some((*row, message))
        }
        Note::Fault(_) | Note::Remember(_) => None,
    });
    if let Some((row, message)) = found.or(too_long) {
        let error = StepError::PolicyOutput {
            policy: name(),
            agent: batch.members[row].0,
            message,
        };
        return Err((env_of(row), error));
    }
    Ok(notes
        .into_iter()
        .map(|(row, note)| (env_of(row), batch.members[row].0, note))
        .collect())
}

impl PolicyRunner {
    /// A runner for `sims` Sims with these policies and spaces.
    pub(crate) fn new(groups: Arc<[Group]>, envs: usize, spaces: &Spaces, agents: usize) -> Self {
        PolicyRunner {
            staging: Staging::new(&groups, envs, spaces),
            space: spaces.action.clone(),
            agents,
            outputs: groups.iter().map(|_| PassOutputs::default()).collect(),
            groups,
            notes: Vec::new(),
            seeds: Vec::with_capacity(envs),
            time: Duration::ZERO,
        }
    }

    /// The notes of the last [`PolicyRunner::decide`]: `(env, agent, note)`, in env order.
    pub(crate) fn notes(&self) -> &[(usize, AgentId, Note)] {
        &self.notes
    }

    /// Every Sim's slot, to stage into right after stepping it; then [`PolicyRunner::settle`].
    pub(crate) fn slots(&mut self) -> Slots<'_> {
        self.staging.slots(&self.groups)
    }

    /// Makes the batches whole once every Sim has staged.
    pub(crate) fn settle(&mut self) {
        self.staging.settle();
    }

    /// Stages every env of the blocks (none with its episode over), in env order, and settles.
    pub(crate) fn stage_all(&mut self, blocks: &mut [Block]) {
        let mut slots = self.slots();
        let mut each = slots.each();
        per_block(&mut each, blocks)
            .into_par_iter()
            .for_each(|(block, slots)| block.stage(slots));
        self.settle();
    }

    /// Writes the action of every acting policy agent of every env into its row of `actions`
    /// (`[envs × agents × action_dim]`), one forward pass per policy, from the batches the Sims
    /// last staged. On error (a failed pass, a non-finite output) nothing in any Sim has changed:
    /// every pass runs and is checked before any policy draws from an env's stream or writes its
    /// extras.
    pub(crate) fn decide(
        &mut self,
        blocks: &mut [Block],
        actions: &mut [f32],
    ) -> Result<(), (usize, StepError)> {
        let start = Instant::now();
        self.notes.clear();
        // The policies' passes at once (language models answering over the network, say), each
        // into its own outputs; the first refusal in policy order is the step's.
        let (groups, batches, space) = (&self.groups, &self.staging.batches, &self.space);
        self.seeds.clear();
        (self.seeds).extend(blocks.iter().flat_map(|b| b.seeds()));
        let seeds = &self.seeds;
        // What each pass reads of its agents' episode: their memories and recurrent states.
        let kept: Vec<(Vec<&str>, Vec<f32>)> = (groups.iter().zip(batches))
            .map(|(g, batch)| {
                let memory = match g.policy.remembers() {
                    true => memories(batch, blocks),
                    false => Vec::new(),
                };
                let state = match g.policy.state_width() {
                    0 => Vec::new(),
                    width => states(batch, blocks, width),
                };
                (memory, state)
            })
            .collect();
        let passes: Vec<_> = (self.outputs.par_iter_mut().enumerate())
            .map(|(g, out)| forward(&groups[g], &batches[g], seeds, &kept[g], space, out))
            .collect();
        drop(kept);
        let passed = passes.into_iter().try_for_each(|notes| {
            self.notes.extend(notes?);
            Ok(())
        });
        if passed.is_ok() {
            (0..self.groups.len()).for_each(|g| self.select(g, blocks, actions));
        }
        // Stable: each agent's notes keep their order.
        self.notes.sort_by_key(|(env, _, _)| *env);
        self.time += start.elapsed();
        passed
    }

    /// Turns policy `group`'s checked outputs into its agents' actions, drawing from each env's
    /// stream where an agent samples, and keeps their extras.
    fn select(&mut self, group: usize, blocks: &mut [Block], actions: &mut [f32]) {
        let g = &self.groups[group];
        let space = &self.space;
        let (head_dim, action_dim) = (space.head_dim(), space.flat_dim());
        let (mask_dim, per_env) = (space.mask_dim(), self.agents * action_dim);
        let batch = &self.staging.batches[group];
        let rows = batch.rows();
        if rows == 0 {
            return;
        }
        let offsets = &batch.offsets;
        let members = |e: usize| &batch.members[offsets[e]..offsets[e + 1]];
        let out = &mut self.outputs[group];
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
                        &out.head[r * head_dim..(r + 1) * head_dim],
                        &batch.masks[r * mask_dim..(r + 1) * mask_dim],
                        selection,
                        None,
                        &mut actions[start..start + action_dim],
                    );
                }
            }
            return;
        }
        // Block by block: each block's envs, their rows of the actions, heads and extras.
        let envs: Vec<usize> = blocks.iter().map(Block::len).collect();
        let starts = envs_to_offsets(&envs);
        let rows_at: Vec<usize> = starts.iter().map(|&e| offsets[e]).collect();
        let mut heads = split_rows(&mut out.head[..rows * head_dim], &rows_at, head_dim);
        let mut extras = split_rows(
            &mut out.extras[..rows * g.extras_dim],
            &rows_at,
            g.extras_dim,
        );
        let mut actions = split_rows(actions, &starts, per_env);
        let work: Vec<_> = blocks
            .iter_mut()
            .zip(&starts)
            .zip(heads.drain(..).zip(extras.drain(..)).zip(actions.drain(..)))
            .collect();
        work.into_par_iter()
            .with_min_len(MIN_ENVS_PER_TASK.div_ceil(envs.iter().max().copied().unwrap_or(1)))
            .for_each(|((block, &start), ((heads, extras), actions))| {
                let first_row = offsets[start];
                for j in 0..block.len() {
                    let e = start + j;
                    let members = members(e);
                    if members.is_empty() {
                        continue;
                    }
                    let (r0, r1) = (offsets[e] - first_row, offsets[e + 1] - first_row);
                    let masks = &batch.masks[offsets[e] * mask_dim..offsets[e + 1] * mask_dim];
                    let actions = &mut actions[j * per_env..(j + 1) * per_env];
                    let mut env = block.env_mut(j);
                    let mut select_all = |mut rng: Option<&mut ChaCha8Rng>| {
                        for (r, &(a, selection)) in members.iter().enumerate() {
                            let i = a.index();
                            let head = &heads[(r0 + r) * head_dim..(r0 + r + 1) * head_dim];
                            let mask = &masks[r * mask_dim..(r + 1) * mask_dim];
                            let out = &mut actions[i * action_dim..(i + 1) * action_dim];
                            let rng = rng.as_deref_mut().map(|r| r as &mut dyn RngCore);
                            space.select(head, mask, selection, rng, out);
                        }
                    };
                    // Argmax and Box values need no randomness: the env's streams are left alone.
                    match samples {
                        true => {
                            let mut rng = env.get_mut::<SimRng>().expect("every env has streams");
                            select_all(Some(&mut rng.policy))
                        }
                        false => select_all(None),
                    }
                    if g.extras_dim > 0 {
                        let mut kept = env
                            .get_mut::<PolicyExtras>()
                            .expect("every env keeps policy extras");
                        for (r, &(a, _)) in members.iter().enumerate() {
                            let x = (r0 + r) * g.extras_dim;
                            kept.set(a, &extras[x..x + g.extras_dim]);
                        }
                    }
                    debug_assert_eq!(r1 - r0, members.len());
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_chunks_cut_any_width_including_zero() {
        for width in [0, 1, 3] {
            let mut buf: Vec<usize> = (0..5 * width).collect();
            let chunks: Vec<Vec<usize>> = uniform_chunks(&mut buf, width, 5)
                .map(|c| c.to_vec())
                .collect();
            let want: Vec<Vec<usize>> = (0..5)
                .map(|e| (e * width..(e + 1) * width).collect())
                .collect();
            assert_eq!(chunks, want, "width {width}");
        }
    }
}
