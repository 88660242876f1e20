//! Multi-dimensional, per-utterance rewards.
//!
//! A game declares its reward dimensions ([`DimensionInfo`]); its reward components are systems in
//! the `Reward` phase that write `(agent, utterance, dimension, value)` entries into the
//! [`RewardLedger`], which sums each agent's entries per dimension as they come (the raw vector).
//! At the end of the step (after `Record`) the kernel applies each dimension's [`Transform`] (the
//! component vector) and takes the weighted sum (the scalar reward):
//!
//! `reward[a] = Σ_d weight[d] · transform_d(Σ_{entries of a on d} value)`.
//!
//! Where someone reads them ([`crate::SimConfig::records`]), the ledger keeps every entry too, and
//! the transcript with it, so each value stays attributed to the utterance that caused it.
//! An entry may name an utterance of an earlier step of the episode: a reward that can only be
//! known later (how a message moved its listeners' beliefs, known once they have answered)
//! settles then, and [`by_utterance`] groups it apart from the step's own utterances.

use crate::{
    AgentId, Agents, SocialGraph, Utterance, UtteranceId,
    buffers::{Log, Window},
    transform::{self, History, Transform},
};
use bevy_ecs::{component::Component, resource::Resource};
use serde::Deserialize;

/// Index of a reward dimension in its game's [`DimensionInfo`] list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DimId(pub u16);

/// A reward dimension a game declares.
#[derive(Debug, PartialEq)]
pub struct DimensionInfo {
    /// Name used in scenario files (`[rewards.payoff]`) and outputs.
    pub name: &'static str,
    /// One line for `socium list`.
    pub summary: &'static str,
    /// Weight when the scenario sets none.
    pub default_weight: f64,
    /// The bounds of an agent's raw total over an episode, where the rules bound it (Sotopia's
    /// scales, a win of ±1): a scale a judge scores in whole numbers, as Sotopia's evaluator
    /// does (a score outside it or between its steps is refused), and the conformance test
    /// checks that every strategy's episodes keep to it (the game's own totals need not be
    /// whole).
    pub range: Option<(f64, f64)>,
}

/// A dimension as the scenario configures it.
#[derive(Clone, Debug, PartialEq)]
pub struct DimensionSpec {
    /// The dimension's name.
    pub name: &'static str,
    /// Its weight in the scalar reward.
    pub weight: f64,
    /// Its transform.
    pub transform: Transform,
}

impl DimensionSpec {
    /// The game's default: its declared weight and the identity transform.
    pub fn default_for(info: &DimensionInfo) -> Self {
        DimensionSpec {
            name: info.name,
            weight: info.default_weight,
            transform: Transform::Identity,
        }
    }
}

/// The scenario's reward dimensions (weights and transforms) and how they combine, shared by
/// every env of a World.
#[derive(Resource, Debug)]
pub(crate) struct RewardDimensions(pub(crate) Vec<DimensionSpec>, pub(crate) Combine);

/// How an agent's weighted components combine into its scalar reward (`[scalar] combine`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// `Σ_d w_d · c_d`.
    #[default]
    Sum,
    /// `min_d w_d · c_d` over the dimensions of non-zero weight: the worst dimension decides (0
    /// when every weight is 0).
    Min,
    /// `Σ_d w_d · ln(max(c_d, 10⁻¹²))` over the dimensions of non-zero weight: the log of a
    /// weighted product, which a single poor dimension drags down; with `par` components, the
    /// log-probability that the act is good on every property, a logical AND (Wang et al. 2024).
    LogSum,
}

impl Combine {
    /// Each agent's scalar from its components (`[agents × dims]`) weighted by `dims`, into
    /// `out` (`[agents]`).
    ///
    /// Dimension by dimension over every agent: each agent's terms still come in dimension order,
    /// so the sums are those of an agent-by-agent fold, without a short loop per agent.
    fn combine(self, dims: &[DimensionSpec], components: &[f32], out: &mut [f64]) {
        let d = dims.len();
        // Sum's and LogSum's fold starts from -0.0, as `Iterator::sum` does; Min has nothing to
        // take when every weight is 0, and gives 0.
        out.fill(if self == Combine::Min { 0.0 } else { -0.0 });
        let mut first = true;
        for (k, dim) in dims.iter().enumerate() {
            let w = dim.weight;
            // Min and LogSum skip the dimensions of weight 0; Sum keeps them (w·c = 0 there, but
            // a NaN or infinite component still shows).
            if self != Combine::Sum && w == 0.0 {
                continue;
            }
            let column = components.chunks_exact(d).map(|c| c[k] as f64);
            let out = out.iter_mut();
            // `f64::max` and `f64::min` pass over a NaN; a NaN component must show in the scalar
            // as in Sum's.
            let floor = |c: f64| if c.is_nan() { c } else { c.max(1e-12) };
            let least = |r: f64, x: f64| {
                if r.is_nan() || x.is_nan() {
                    f64::NAN
                } else {
                    r.min(x)
                }
            };
            match self {
                Combine::Sum => out.zip(column).for_each(|(r, c)| *r += w * c),
                Combine::LogSum => out.zip(column).for_each(|(r, c)| *r += w * floor(c).ln()),
                Combine::Min if first => out.zip(column).for_each(|(r, c)| *r = w * c),
                Combine::Min => out.zip(column).for_each(|(r, c)| *r = least(*r, w * c)),
            }
            first = false;
        }
    }
}

/// One reward entry: `value` on `dimension` for `agent`, caused by `utterance`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RewardEntry {
    /// Who is rewarded.
    pub agent: AgentId,
    /// The utterance (act) that caused it.
    pub utterance: UtteranceId,
    /// The dimension.
    pub dimension: DimId,
    /// The raw value.
    pub value: f64,
}

impl RewardEntry {
    /// The value of a ledger's room for entries not yet made.
    pub(crate) const FILLER: RewardEntry = RewardEntry {
        agent: AgentId(0),
        utterance: UtteranceId(0),
        dimension: DimId(0),
        value: 0.0,
    };
}

/// The reward of the current step: each agent's sum per dimension, and the entries that make it
/// up when the env keeps records ([`crate::SimConfig::records`]).
#[derive(Component, Debug)]
pub struct RewardLedger {
    entries: Log<RewardEntry>,
    /// The entries' values summed, `[agents × dims]`: the step's raw reward, summed as entries
    /// come so that a run that keeps no records needs none. A window into the block's array.
    raw: Window<f64>,
    dimensions: u16,
    /// Whether entries are kept (they are summed either way).
    keep: bool,
}

impl RewardLedger {
    /// A ledger of `dimensions` dimensions whose sums are `raw` (`[agents × dimensions]`,
    /// zeroed), keeping entries in `entries` where `keep`.
    pub(crate) fn new(
        raw: Window<f64>,
        entries: Log<RewardEntry>,
        dimensions: usize,
        keep: bool,
    ) -> Self {
        RewardLedger {
            entries,
            raw,
            dimensions: dimensions as u16,
            keep,
        }
    }

    /// Adds an entry.
    ///
    /// # Panics
    /// If the game has no dimension `dimension` or no agent `agent`: a bug in the game, caught
    /// where it is made.
    #[inline]
    pub fn add(&mut self, agent: AgentId, utterance: UtteranceId, dimension: DimId, value: f64) {
        self.writer().add(agent, utterance, dimension, value);
    }

    /// The ledger as a [`LedgerWriter`], for a loop of entries: what [`RewardLedger::add`] reads
    /// of the ledger at every entry, the writer reads once.
    #[inline]
    pub fn writer(&mut self) -> LedgerWriter<'_> {
        LedgerWriter {
            raw: &mut self.raw,
            entries: self.keep.then_some(&mut self.entries),
            dimensions: self.dimensions,
        }
    }

    /// The entries of this step (none when the env keeps no records).
    pub fn entries(&self) -> &[RewardEntry] {
        &self.entries
    }

    /// The step's raw reward, `[agents × dims]`: every entry's value summed per agent and
    /// dimension.
    pub(crate) fn raw(&self) -> &[f64] {
        &self.raw
    }

    /// Empties the ledger for a new step.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.raw.fill(0.0);
    }
}

/// A [`RewardLedger`] borrowed for many entries ([`RewardLedger::writer`]). A reward system
/// adding entries in a loop takes one: the ledger's sums are then a slice of its own, which the
/// compiler keeps in registers across the loop, where through `&mut RewardLedger` it reloads them
/// after every entry, because a sum written might be the ledger itself as far as it can tell.
pub struct LedgerWriter<'a> {
    raw: &'a mut [f64],
    /// The ledger's entries, where it keeps them.
    entries: Option<&'a mut Log<RewardEntry>>,
    dimensions: u16,
}

impl LedgerWriter<'_> {
    /// Adds an entry, as [`RewardLedger::add`] (and panics where it does).
    #[inline]
    pub fn add(&mut self, agent: AgentId, utterance: UtteranceId, dimension: DimId, value: f64) {
        assert!(
            dimension.0 < self.dimensions,
            "reward dimension {} does not exist: the game declares {}",
            dimension.0,
            self.dimensions
        );
        self.raw[agent.index() * self.dimensions as usize + dimension.0 as usize] += value;
        if let Some(entries) = self.entries.as_deref_mut() {
            entries.push(RewardEntry {
                agent,
                utterance,
                dimension,
                value,
            });
        }
    }

    /// Adds every entry of `entries` (agent, utterance, dimension, value), as
    /// [`LedgerWriter::add`] one by one. Whether the ledger keeps its entries is settled once for
    /// them all, so that where it keeps none the loop is the sums alone.
    #[inline]
    pub fn add_all(
        &mut self,
        entries: impl IntoIterator<Item = (AgentId, UtteranceId, DimId, f64)>,
    ) {
        if self.entries.is_some() {
            entries
                .into_iter()
                .for_each(|(a, u, d, v)| self.add(a, u, d, v));
        } else {
            // The same adds through a writer the compiler can see keeps no entries.
            let mut sums = LedgerWriter {
                raw: &mut *self.raw,
                entries: None,
                dimensions: self.dimensions,
            };
            entries
                .into_iter()
                .for_each(|(a, u, d, v)| sums.add(a, u, d, v));
        }
    }
}

/// A step's reward entries gathered by the utterance they name.
#[derive(Debug, PartialEq)]
pub enum UtteranceEntries<'a> {
    /// Entries settling an utterance of an earlier step.
    Settles {
        /// The earlier utterance.
        utterance: UtteranceId,
        /// Its entries settled this step, in the order they were written.
        rewards: Vec<&'a RewardEntry>,
    },
    /// An utterance of this step and the entries naming it (maybe none).
    Made {
        /// The utterance.
        utterance: &'a Utterance,
        /// Its entries, in the order they were written.
        rewards: Vec<&'a RewardEntry>,
    },
}

/// The step's `entries` by utterance, in id order: first the earlier utterances they settle,
/// then every one of the step's `utterances` (ids count up through an episode, so an id below the
/// step's first is an earlier step's).
pub fn by_utterance<'a>(
    utterances: &'a [Utterance],
    entries: &'a [RewardEntry],
) -> Vec<UtteranceEntries<'a>> {
    let mut sorted: Vec<&RewardEntry> = entries.iter().collect();
    // Stable: an utterance's entries keep the order they were written in.
    sorted.sort_by_key(|e| e.utterance);
    let first_made = utterances.first().map_or(UtteranceId(u64::MAX), |u| u.id);
    let earlier = sorted.partition_point(|e| e.utterance < first_made);
    let mut out: Vec<UtteranceEntries> = sorted[..earlier]
        .chunk_by(|a, b| a.utterance == b.utterance)
        .map(|chunk| UtteranceEntries::Settles {
            utterance: chunk[0].utterance,
            rewards: chunk.to_vec(),
        })
        .collect();
    let mut rest = &sorted[earlier..];
    for u in utterances {
        let start = rest.partition_point(|e| e.utterance < u.id);
        let end = rest.partition_point(|e| e.utterance <= u.id);
        out.push(UtteranceEntries::Made {
            utterance: u,
            rewards: rest[start..end].to_vec(),
        });
        rest = &rest[end..];
    }
    out
}

/// Two columns of one dimension's values (raw, transformed), reused by every env's sums: a
/// World's scratch, not an env's state.
#[derive(Default)]
pub(crate) struct Scratch(Vec<f64>, Vec<f64>);

impl Scratch {
    /// Dimension `k`'s column of the step's raw sums (`[agents × dims]`), transformed by its
    /// transform.
    // Out of line: inlined into `StepRewards::aggregate`, the transforms' code made every call
    // save and reload its registers, though most scenarios transform nothing.
    #[inline(never)]
    fn transform(
        &mut self,
        raw: &[f64],
        dims: &[DimensionSpec],
        k: usize,
        acting: &[bool],
        agents: &Agents,
        history: &mut History,
    ) -> &[f64] {
        let Scratch(column, out) = self;
        let n = raw.len() / dims.len();
        column.resize(n, 0.0);
        out.resize(n, 0.0);
        let raw = raw.iter().skip(k).step_by(dims.len());
        column.iter_mut().zip(raw).for_each(|(c, x)| *c = *x);
        transform::apply(&dims[k].transform, column, acting, agents, history, out);
        out
    }
}

/// Per-agent rewards of the last step and of the episode so far.
///
/// The episode's sums lie in one buffer (a step touches all of them in every env, and at
/// thousands of envs, out of cache, one allocation streams through memory where several
/// scattered ones each cost a miss); the step's rewards are the env's windows of its owner's
/// output buffers ([`crate::VecBuffers`]).
#[derive(Component, Debug)]
#[component(on_insert = crate::buffers::stay_home::<Self>)]
pub struct StepRewards {
    /// Each dimension's past steps, for its transform.
    histories: Vec<History>,
    /// `agents × dims`.
    cells: usize,
    /// Raw per-dimension sums over the episode, `[agents × dims]`; transformed components summed
    /// over the episode, `[agents × dims]` (kept for the dimensions whose transform is not the
    /// identity: the others' are the raw sums); the scalar return over the episode, `[agents]`.
    /// A window into the block's array.
    sums: Window<f64>,
    /// Transformed per-dimension components of the step, `[agents × dims]`.
    pub(crate) components: Window<f32>,
    /// The scalar reward of the step, `[agents]`.
    reward: Window<f32>,
}

/// [`StepRewards`]' parts, borrowed apart.
struct Parts<'a> {
    histories: &'a mut [History],
    episode_raw: &'a mut [f64],
    episode_components: &'a mut [f64],
    episode_return: &'a mut [f64],
    components: &'a mut [f32],
    reward: &'a mut [f32],
}

impl StepRewards {
    /// The rewards of `d` dimensions, the step's written into `components` (`[agents × d]`) and
    /// `reward` (`[agents]`), the episode's summed in `sums` (zeroed, of
    /// [`StepRewards::sums_len`]).
    pub(crate) fn new(
        d: usize,
        components: Window<f32>,
        reward: Window<f32>,
        sums: Window<f64>,
    ) -> Self {
        let (cells, agents) = (components.len(), reward.len());
        debug_assert_eq!(cells, agents * d);
        debug_assert_eq!(sums.len(), Self::sums_len(agents, d));
        StepRewards {
            histories: vec![History::default(); d],
            cells,
            sums,
            components,
            reward,
        }
    }

    /// Values of the episode's sums of `agents` agents in `d` dimensions.
    pub(crate) fn sums_len(agents: usize, d: usize) -> usize {
        2 * agents * d + agents
    }

    fn parts(&mut self) -> Parts<'_> {
        let (episode_raw, rest) = self.sums.split_at_mut(self.cells);
        let (episode_components, episode_return) = rest.split_at_mut(self.cells);
        Parts {
            histories: &mut self.histories,
            episode_raw,
            episode_components,
            episode_return,
            components: &mut self.components,
            reward: &mut self.reward,
        }
    }

    /// Raw per-dimension sums over the episode, `[agents × dims]`.
    pub(crate) fn episode_raw(&self) -> &[f64] {
        &self.sums[..self.cells]
    }

    /// Scalar return over the episode, `[agents]`.
    pub(crate) fn episode_return(&self) -> &[f64] {
        &self.sums[2 * self.cells..]
    }

    /// Transformed per-dimension components of the step, `[agents × dims]`.
    pub(crate) fn components(&self) -> &[f32] {
        &self.components
    }

    /// Scalar reward of the step, `[agents]`.
    pub(crate) fn reward(&self) -> &[f32] {
        &self.reward
    }

    /// Adds `f` to agent `a`'s reward of the step and return of the episode.
    pub(crate) fn add_reward(&mut self, a: usize, f: f64) {
        let Parts {
            reward,
            episode_return,
            ..
        } = self.parts();
        reward[a] += f as f32;
        episode_return[a] += f;
    }

    /// The transformed components summed over the episode, `[agents × dims]`: the raw sums
    /// for identity transforms.
    pub(crate) fn episode_components(&self, dims: &[DimensionSpec]) -> Vec<f64> {
        let d = dims.len();
        let transformed = &self.sums[self.cells..2 * self.cells];
        (self.episode_raw().iter().zip(transformed).enumerate())
            .map(|(i, (raw, transformed))| match dims[i % d].transform {
                Transform::Identity => *raw,
                _ => *transformed,
            })
            .collect()
    }

    /// Forgets each dimension's reference group, found anew at the next step (the agents'
    /// labels changed).
    pub(crate) fn forget_groups(&mut self) {
        self.histories.iter_mut().for_each(History::forget_group);
    }

    pub(crate) fn clear_episode(&mut self) {
        self.histories.iter_mut().for_each(History::clear);
        self.sums.fill(0.0);
        self.components.fill(0.0);
        self.reward.fill(0.0);
    }

    /// Sums the ledger per agent and dimension, transforms and weights by `dims` (`acting`: the
    /// agents that acted this step), weighs in the others' rewards by each agent's social
    /// preference (the others: its neighbours on `graph`), and adds to the episode.
    pub(crate) fn aggregate(
        &mut self,
        ledger: &RewardLedger,
        RewardDimensions(dims, combine): &RewardDimensions,
        acting: &[bool],
        agents: &Agents,
        graph: &SocialGraph,
        scratch: &mut Scratch,
    ) {
        let d = dims.len();
        let Parts {
            histories,
            episode_raw,
            episode_components,
            episode_return,
            components,
            reward,
        } = self.parts();
        let raw = ledger.raw();
        // An identity component is its raw sum: one contiguous pass over every dimension, whose
        // transformed ones are then overwritten column by column.
        components
            .iter_mut()
            .zip(raw)
            .for_each(|(c, x)| *c = *x as f32);
        for (k, dim) in dims.iter().enumerate() {
            if dim.transform == Transform::Identity {
                continue;
            }
            let out = scratch.transform(raw, dims, k, acting, agents, &mut histories[k]);
            let components = components.iter_mut().skip(k).step_by(d);
            components.zip(out).for_each(|(c, x)| *c = *x as f32);
            let totals = episode_components.iter_mut().skip(k).step_by(d);
            totals.zip(out).for_each(|(t, x)| *t += *x as f32 as f64);
        }
        let own = &mut scratch.0;
        own.resize(reward.len(), 0.0);
        combine.combine(dims, components, own);
        for (total, x) in episode_raw.iter_mut().zip(raw.iter()) {
            *total += x;
        }
        if !agents.any_social() {
            for ((reward, total), &r) in reward.iter_mut().zip(episode_return).zip(own.iter()) {
                *reward = r as f32;
                *total += r;
            }
            return;
        }
        let total: f64 = own.iter().sum();
        for a in 0..reward.len() {
            let id = AgentId(a as u32);
            let r = agents.social(id).reward(id, own, graph, total);
            reward[a] = r as f32;
            episode_return[a] += r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AgentSpec, Controller,
        bounded::{Count, Positive},
        buffers::{Envs, RowDims, Window},
    };

    /// The rewards of `agents` agents in `d` dimensions.
    fn step_rewards(agents: usize, d: usize) -> Envs<StepRewards> {
        let dims = RowDims {
            rewards: d,
            ..RowDims::default()
        };
        Envs::new(1, agents, dims, |mut w| {
            let w = w.pop().expect("one env");
            let sums = Window::split(0.0, StepRewards::sums_len(agents, d), 1).remove(0);
            StepRewards::new(d, w.reward_components, w.rewards, sums)
        })
    }

    fn complete(n: usize) -> SocialGraph {
        crate::GraphSpec::Complete.generate(n, &mut crate::SimRng::new(0))
    }

    fn agents(n: usize) -> Agents {
        let spec = AgentSpec {
            controller: Controller::External,
            label: "x".into(),
            social: Default::default(),
        };
        Agents::new(vec![spec; n])
    }

    fn dims(transform: Transform, weight: f64) -> Vec<DimensionSpec> {
        vec![
            DimensionSpec {
                name: "a",
                weight: 1.0,
                transform: Transform::Identity,
            },
            DimensionSpec {
                name: "b",
                weight,
                transform,
            },
        ]
    }

    /// A ledger of 2 agents in 2 dimensions.
    fn empty_ledger(keep: bool) -> RewardLedger {
        let entries = Log::split(RewardEntry::FILLER, 3, 1).remove(0);
        RewardLedger::new(Window::split(0.0, 4, 1).remove(0), entries, 2, keep)
    }

    fn ledger(entries: &[(u32, u16, f64)]) -> RewardLedger {
        let mut l = empty_ledger(true);
        for &(a, d, v) in entries {
            l.add(AgentId(a), UtteranceId(0), DimId(d), v);
        }
        l
    }

    #[test]
    fn weighted_sum_of_transformed_components() {
        let scale = Positive::new(2.0).unwrap();
        let dims = dims(Transform::Sigmoid { scale }, 0.5);
        let mut envs = step_rewards(2, 2);
        let r = envs.held_mut();
        let (acting, agents, graph) = ([true, true], agents(2), complete(2));
        let l = ledger(&[(0, 0, 1.0), (0, 0, 2.0), (0, 1, 2.0), (1, 1, -2.0)]);
        r.aggregate(
            &l,
            &RewardDimensions(dims.clone(), Combine::Sum),
            &acting,
            &agents,
            &graph,
            &mut Scratch::default(),
        );
        let s = 2.0 / (1.0 + (-1.0f64).exp()) - 1.0;
        assert_eq!(l.raw(), vec![3.0, 2.0, 0.0, -2.0]);
        assert!((r.components()[1] as f64 - s).abs() < 1e-6);
        assert!((r.reward()[0] as f64 - (3.0 + 0.5 * s)).abs() < 1e-6);
        assert!((r.reward()[1] as f64 + 0.5 * s).abs() < 1e-6);
        r.aggregate(
            &ledger(&[(0, 0, 1.0)]),
            &RewardDimensions(dims.clone(), Combine::Sum),
            &acting,
            &agents,
            &graph,
            &mut Scratch::default(),
        );
        assert_eq!(r.episode_raw()[0], 4.0);
    }

    #[test]
    fn combinations_on_hand_built_components() {
        let spec = |weight: f64| DimensionSpec {
            name: "x",
            weight,
            transform: Transform::Identity,
        };
        let one = |combine: Combine, dims: &[DimensionSpec], c: &[f32]| {
            let mut out = [f64::NAN];
            combine.combine(dims, c, &mut out);
            out[0]
        };
        let dims = [spec(2.0), spec(0.5), spec(0.0)];
        let c = [0.25f32, 4.0, -7.0];
        assert_eq!(one(Combine::Sum, &dims, &c), 0.5 + 2.0);
        // The weight-0 dimension does not take part in min or log_sum.
        assert_eq!(one(Combine::Min, &dims, &c), 0.5);
        let log = 2.0 * 0.25f64.ln() + 0.5 * 4f64.ln();
        assert!((one(Combine::LogSum, &dims, &c) - log).abs() < 1e-12);
        // A NaN component shows in every combination, whichever dimension it is in.
        for combine in [Combine::Sum, Combine::Min, Combine::LogSum] {
            for c in [[f32::NAN, 1.0], [1.0, f32::NAN]] {
                let scalar = one(combine, &[spec(1.0), spec(1.0)], &c);
                assert!(scalar.is_nan(), "{combine:?} of {c:?}: {scalar}");
            }
        }
        // A component at or below 0 counts as 10^-12 in a log.
        let zero = one(Combine::LogSum, &[spec(1.0)], &[0.0]);
        assert!((zero - 1e-12f64.ln()).abs() < 1e-9);
        // Every weight 0: min has nothing to take, and gives 0.
        assert_eq!(one(Combine::Min, &[spec(0.0)], &[3.0]), 0.0);
        assert_eq!(
            one(Combine::Min, &[spec(1.0), spec(-1.0)], &[3.0, 2.0]),
            -2.0
        );
        // Each agent combines its own row, whatever the others hold.
        let rows = [1.0f32, 2.0, -3.0, 8.0];
        let mut out = [0.0; 2];
        Combine::Min.combine(&dims[..2], &rows, &mut out);
        assert_eq!(out, [1.0, -6.0]);
        Combine::Sum.combine(&dims[..2], &rows, &mut out);
        assert_eq!(out, [3.0, -2.0]);
    }

    #[test]
    fn a_ledger_without_records_sums_alike_and_keeps_no_entries() {
        let entries = [(0, 0, 0.1), (1, 1, -2.5), (0, 0, 0.2), (0, 1, 1e-17)];
        let kept = ledger(&entries);
        let mut summed = empty_ledger(false);
        for &(a, d, v) in &entries {
            summed.add(AgentId(a), UtteranceId(0), DimId(d), v);
        }
        assert_eq!(kept.entries().len(), 4);
        assert!(summed.entries().is_empty());
        assert_eq!(summed.raw(), kept.raw());
        assert_eq!(summed.raw()[0], 0.1 + 0.2);
        summed.clear();
        assert_eq!(summed.raw(), [0.0; 4]);
    }

    #[test]
    fn adding_all_at_once_is_adding_one_by_one() {
        let entries = [(0, 0, 0.1), (1, 1, -2.5), (0, 0, 0.2), (0, 1, 1e-17)];
        let all = entries.map(|(a, d, v)| (AgentId(a), UtteranceId(7 + a as u64), DimId(d), v));
        for keep in [true, false] {
            let (mut one_by_one, mut at_once) = (empty_ledger(keep), empty_ledger(keep));
            for (a, u, d, v) in all {
                one_by_one.add(a, u, d, v);
            }
            at_once.writer().add_all(all);
            assert_eq!(at_once.raw(), one_by_one.raw());
            assert_eq!(at_once.entries(), one_by_one.entries());
            assert_eq!(at_once.entries().len(), if keep { 4 } else { 0 });
        }
    }

    #[test]
    #[should_panic(expected = "reward dimension 2 does not exist: the game declares 2")]
    fn entries_on_undeclared_dimensions_are_bugs() {
        ledger(&[(0, 2, 1.0)]);
    }

    #[test]
    fn min_max_over_a_sliding_window() {
        let window = Count::new(2).unwrap();
        let dims = dims(Transform::MinMax { window }, 1.0);
        let mut envs = step_rewards(2, 2);
        let r = envs.held_mut();
        let (acting, agents, graph) = ([true, true], agents(2), complete(2));
        let aggregate = |r: &mut StepRewards, entries: &[(u32, u16, f64)]| {
            r.aggregate(
                &ledger(entries),
                &RewardDimensions(dims.clone(), Combine::Sum),
                &acting,
                &agents,
                &graph,
                &mut Scratch::default(),
            )
        };
        aggregate(r, &[(0, 1, 10.0), (1, 1, 0.0)]);
        assert_eq!(r.components(), &[0.0, 1.0, 0.0, 0.0]);
        aggregate(r, &[(0, 1, 5.0), (1, 1, 5.0)]);
        // Window holds steps 1 and 2: range [0, 10].
        assert_eq!(r.components()[1], 0.5);
        aggregate(r, &[(0, 1, 6.0), (1, 1, 6.0)]);
        // Step 1 fell out: range [5, 6].
        assert_eq!(r.components()[1], 1.0);
        r.clear_episode();
        aggregate(r, &[(0, 1, 6.0), (1, 1, 6.0)]);
        assert_eq!(r.components()[1], 0.0, "max = min gives 0");
    }
}
