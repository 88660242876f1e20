//! Running a scenario: episodes, tables and the output files of `socium run`.

use crate::{
    Change, Heron, Scenario, When,
    attribution::{Attributing, AttributionSummary},
    schema::HeronPairs,
};
use serde::Serialize;
use socium_core::{
    AgentId, AgentSpec, Agreement, Controller, GRAPH_STATS, GraphStats, MetricId, Sim, SimConfig,
    SimError, StepError, TranscriptLine, VALUE_STATS, ValueStats, derive_seed, edge_list,
    heron::prefer,
};
use socium_llm::Judge;
use std::{
    cell::RefCell,
    collections::BTreeMap,
    fmt::Write as _,
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
};
use tempfile::NamedTempFile;

/// Why a run failed. No output file is left half-written.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The Sim could not be built.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// Some agents need an outside trainer.
    #[error(
        "external agents (ids {agents}): `socium run` plays scripted, random and policy agents only; \
         step external agents from a trainer (Sim/VecEnv), or make them `controller = \"random\"`"
    )]
    External {
        /// The external agents' ids.
        agents: String,
    },
    /// The output folder holds a `socium evolve` run's checkpoints.
    #[error(
        "{}: the checkpoints of a `socium evolve` run, which a run's outputs would replace: \
         write the run to another folder, or remove this one",
        path.display()
    )]
    EvolveFolder {
        /// The checkpoints' folder.
        path: PathBuf,
    },
    /// A step failed (a policy gave a non-finite output, say).
    #[error("episode {episode}, step {step}: {error}")]
    Step {
        /// The episode.
        episode: u64,
        /// The step within it.
        step: u64,
        /// Why.
        error: StepError,
    },
    /// An attribution's weight model failed on an episode.
    #[error("episode {episode}: attribution: {message}")]
    Attribution {
        /// The episode.
        episode: u64,
        /// What the model's runtime said.
        message: String,
    },
    /// The judge's server refused, or was never reached: every judgement would fail alike.
    #[error("episode {episode}: judge: {message}")]
    Judge {
        /// The episode.
        episode: u64,
        /// What went wrong.
        message: String,
    },
    /// A `[[timeline]]` change could not be made where it stands: its step is past its
    /// episode's end, in a game that does not declare its episodes' length
    /// ([`socium_core::Rules::episode_steps`]; where it does, the scenario is refused first).
    #[error("{}:{line}:{column}: the change at {when}: {message}", file.display())]
    Timeline {
        /// The scenario file.
        file: PathBuf,
        /// The entry's line.
        line: usize,
        /// The entry's column.
        column: usize,
        /// When it was to apply, in words.
        when: String,
        /// Why it could not.
        message: String,
    },
    /// Writing an output failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why (in the message, not as its source: a chain printed whole would say it twice).
        error: std::io::Error,
    },
}

/// What a group of agents with one label did, per agent and episode.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupSummary {
    /// The label.
    pub label: String,
    /// The controller (strategy name, `random` or `external`).
    pub controller: String,
    /// Agents in the group.
    pub agents: usize,
    /// Mean scalar return per agent and episode.
    pub mean_return: f64,
    /// Mean raw reward per dimension, per agent and episode.
    pub mean_rewards: BTreeMap<String, f64>,
    /// Mean transformed reward component per dimension (unweighted), per agent and episode:
    /// what the scenario's transforms made of `mean_rewards`.
    pub mean_components: BTreeMap<String, f64>,
    /// Controller faults over the run (a language model's unanswered decisions, each played
    /// as the default act); absent when there were none.
    #[serde(skip_serializing_if = "is_zero")]
    pub faults: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The summary of a run, written to `summary.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    /// Scenario name.
    pub scenario: String,
    /// Game name.
    pub game: String,
    /// Seed of the first episode.
    pub seed: u64,
    /// Episodes played.
    pub episodes: u64,
    /// Steps played in all.
    pub steps: u64,
    /// Each metric's mean over the episodes that recorded it.
    pub metrics: BTreeMap<String, f64>,
    /// Per label, in order of first appearance.
    pub groups: Vec<GroupSummary>,
    /// Which agent id carries which label: the scenario's, then each `[[timeline]]` change's
    /// that renumbers or relabels the agents, from the episode (and step) it applies at.
    pub layouts: Vec<Layout>,
    /// How the scenario's judge scored the agents against the exact rewards; absent without a
    /// judge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeSummary>,
    /// The social graph's statistics at the end of the run; absent without `[output] graph`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphStats>,
    /// The agents' values at the end of the run; absent without `[values]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<ValueStats>,
    /// How the scenario's attribution recovered the exact per-utterance values; absent without
    /// an `[attribution]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<AttributionSummary>,
}

/// The agents from an episode (or a step of it) on: runs of consecutive agent ids sharing a
/// label, in id order (`[["reciprocal", 8], ["givers", 8]]`: ids 0–7, then 8–15).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Layout {
    /// The first episode it holds for.
    pub episode: u64,
    /// The step it holds from, for a change part-way through that episode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// `(label, agents)` runs in id order.
    pub agents: Vec<(String, usize)>,
}

impl Layout {
    fn of(agents: &[AgentSpec], episode: u64, step: Option<u32>) -> Layout {
        let runs = agents.chunk_by(|a, b| a.label == b.label);
        Layout {
            episode,
            step,
            agents: runs
                .map(|run| (run[0].label.to_string(), run.len()))
                .collect(),
        }
    }
}

/// A judge's scores against the exact per-episode reward totals.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JudgeSummary {
    /// The judge's model.
    pub model: String,
    /// Agent-episodes scored (agents that acted in the episode).
    pub scored: usize,
    /// Agent-episodes the judge gave no usable scores for (after its retries).
    pub faults: usize,
    /// Per reward dimension: the judge's agreement with the exact totals.
    pub dimensions: BTreeMap<String, Agreement>,
}

/// What a judge gathers over a run: each scored agent's scores beside its exact totals.
struct Judging<'a> {
    judge: &'a Judge,
    /// Per dimension: the judge's scores and the exact totals, paired.
    pairs: Vec<(Vec<f64>, Vec<f64>)>,
    scored: usize,
    faults: usize,
}

/// One line of `preferences.jsonl`, its keys in the documented order: between agents `a` and
/// `b` of an `episode`, or between episodes `a` and `b` of an `agent`.
#[derive(Serialize)]
struct Preference<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    episode: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<usize>,
    a: u64,
    b: u64,
    /// `a` or `b`, `None` when no dimension decides.
    preferred: Option<u64>,
    /// The deciding dimension.
    factor: Option<&'a str>,
}

/// Appends HERON's preferences of episode `episode` (its raw totals `raw`, `[agents × dims]`;
/// `previous`, the episode before's), a JSON line each: between every pair of agents `a < b` of
/// the episode, or each agent's episode against its previous one; the preferred agent (or
/// episode) and the deciding dimension, both `null` when no dimension decides.
fn write_preferences(
    out: &mut String,
    heron: &Heron,
    dims: &[&str],
    episode: u64,
    raw: &[f64],
    previous: &[f64],
) {
    let d = dims.len();
    let n = raw.len() / d.max(1);
    let mut line = |x: &[f64], y: &[f64], of: (Option<u64>, Option<usize>), ids: [u64; 2]| {
        let p = prefer(x, y, &heron.order, &heron.margins);
        let preference = Preference {
            episode: of.0,
            agent: of.1,
            a: ids[0],
            b: ids[1],
            preferred: p.map(|p| ids[p.preferred]),
            factor: p.map(|p| dims[p.factor]),
        };
        out.push_str(&serde_json::to_string(&preference).expect("a preference serialises"));
        out.push('\n');
    };
    match heron.between {
        HeronPairs::Agents => {
            for a in 0..n {
                for b in a + 1..n {
                    let of = (Some(episode), None);
                    line(row(raw, d, a), row(raw, d, b), of, [a as u64, b as u64]);
                }
            }
        }
        HeronPairs::Episodes if episode > 0 => {
            for a in 0..n {
                let (x, y) = (row(previous, d, a), row(raw, d, a));
                line(x, y, (None, Some(a)), [episode - 1, episode]);
            }
        }
        HeronPairs::Episodes => {}
    }
}

/// Agent `a`'s row of `totals` (`[agents × d]`).
fn row(totals: &[f64], d: usize, a: usize) -> &[f64] {
    &totals[a * d..(a + 1) * d]
}

/// Notes the words of the step just played, a line per utterance, for the judge.
fn hear(lines: &RefCell<Vec<String>>, sim: &Sim) {
    let mut lines = lines.borrow_mut();
    for u in sim.env().utterances() {
        lines.push(format!("[step {}] [{}] {}", u.step, u.speaker, u.words()));
    }
}

impl Judging<'_> {
    /// Scores every agent that acted in the episode told by `lines`, against `raw` (`[agents ×
    /// dims]`, the exact totals); `Err` when the run must stop ([`socium_llm::Judge::score`]).
    fn score(
        &mut self,
        scenario: &Scenario,
        labels: &[String],
        lines: &[String],
        raw: &[f64],
    ) -> Result<(), String> {
        let episode = lines.join("\n");
        let dims = scenario.game.reward_dimensions();
        for (a, label) in labels
            .iter()
            .enumerate()
            .map(|(i, l)| (AgentId(i as u32), l))
        {
            let tag = format!("[{a}]");
            if !lines.iter().any(|l| l.contains(&tag)) {
                continue;
            }
            let who = format!("{a} ({label})");
            match self
                .judge
                .score(scenario.game.name(), dims, &episode, &who)?
            {
                Ok(scores) => {
                    self.scored += 1;
                    for (k, (judged, exact)) in self.pairs.iter_mut().enumerate() {
                        judged.push(scores[k]);
                        exact.push(raw[a.index() * dims.len() + k]);
                    }
                }
                Err(_) => self.faults += 1,
            }
        }
        Ok(())
    }

    fn summary(self, scenario: &Scenario) -> JudgeSummary {
        let dims = scenario.game.reward_dimensions();
        JudgeSummary {
            model: self.judge.model().to_owned(),
            scored: self.scored,
            faults: self.faults,
            dimensions: dims
                .iter()
                .zip(&self.pairs)
                .map(|(d, (judged, exact))| (d.name.to_owned(), Agreement::of(judged, exact)))
                .collect(),
        }
    }
}

/// What one episode of a run gave: what `metrics.csv` and `summary.json` are made of.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpisodeRecord {
    /// The episode played to make this record: the episode it is given for, or an earlier one
    /// that it repeats (see [`play`]).
    pub played: u64,
    /// Steps the episode lasted.
    pub steps: u64,
    /// Utterances made in it (one per act).
    pub utterances: u64,
    /// Each metric's mean over the episode, where it was recorded.
    pub metrics: Vec<Option<f64>>,
    /// Each agent's scalar return.
    pub returns: Vec<f64>,
    /// Each agent's raw reward per dimension, `[agents × dims]`.
    pub raw: Vec<f64>,
    /// Each agent's transformed reward components per dimension, `[agents × dims]`.
    pub components: Vec<f64>,
    /// Each agent's controller faults.
    pub faults: Vec<u32>,
    /// The social graph's statistics at the episode's end, with `[output] graph`.
    pub graph: Option<GraphStats>,
    /// The agents' values at the episode's end, with `[values]`.
    pub values: Option<ValueStats>,
}

/// A group's members' totals over the episodes each played, member by member (the `p`-th agent
/// of the group is member `p`), in flat arrays: a million agents make a million members.
#[derive(Debug)]
struct Group {
    label: String,
    controller: String,
    /// Its agents now.
    agents: usize,
    episodes: Vec<u64>,
    returns: Vec<f64>,
    /// `[members × dims]`.
    raw: Vec<f64>,
    /// `[members × dims]`.
    components: Vec<f64>,
    faults: Vec<u64>,
}

/// The run's groups (labels, in order of first appearance) and, for the agents now playing, which
/// group's member each is: the `p`-th agent of a group adds to that group's `p`-th totals,
/// episode after episode, whatever a timeline does to the number of agents.
struct Membership {
    dims: usize,
    groups: Vec<Group>,
    /// Per agent now: its group and its place in it.
    slots: Vec<(usize, usize)>,
}

impl Membership {
    fn new(agents: &[AgentSpec], dims: usize) -> Self {
        let mut m = Membership {
            dims,
            groups: Vec::new(),
            slots: Vec::new(),
        };
        m.assign(agents);
        m
    }

    /// Places the agents of a (new) setup in their groups, adding a group for a new label.
    fn assign(&mut self, agents: &[AgentSpec]) {
        for group in &mut self.groups {
            group.agents = 0;
        }
        self.slots.clear();
        self.slots.reserve(agents.len());
        let mut g = 0;
        for agent in agents {
            // Agents come group by group: look further only when the label changes.
            if self
                .groups
                .get(g)
                .is_none_or(|group| *group.label != *agent.label)
            {
                g = match self.groups.iter().position(|g| *g.label == *agent.label) {
                    Some(g) => g,
                    None => {
                        self.groups.push(Group {
                            label: agent.label.to_string(),
                            controller: String::new(),
                            agents: 0,
                            episodes: Vec::new(),
                            returns: Vec::new(),
                            raw: Vec::new(),
                            components: Vec::new(),
                            faults: Vec::new(),
                        });
                        self.groups.len() - 1
                    }
                };
            }
            let group = &mut self.groups[g];
            // The group's controller is its last agent's.
            let name = agent.controller.name();
            if group.controller != name {
                group.controller = name.to_owned();
            }
            self.slots.push((g, group.agents));
            group.agents += 1;
        }
        let d = self.dims;
        for group in &mut self.groups {
            let members = group.agents.max(group.returns.len());
            group.episodes.resize(members, 0);
            group.returns.resize(members, 0.0);
            group.raw.resize(members * d, 0.0);
            group.components.resize(members * d, 0.0);
            group.faults.resize(members, 0);
        }
    }

    /// Adds an episode's returns, rewards and faults to its agents' members.
    fn add(&mut self, record: &EpisodeRecord) {
        let d = self.dims;
        for (a, &(g, p)) in self.slots.iter().enumerate() {
            let group = &mut self.groups[g];
            group.episodes[p] += 1;
            group.returns[p] += record.returns[a];
            let (member, row) = (p * d..(p + 1) * d, a * d..(a + 1) * d);
            (group.raw[member.clone()]
                .iter_mut()
                .zip(&record.raw[row.clone()]))
            .for_each(|(t, r)| *t += r);
            (group.components[member]
                .iter_mut()
                .zip(&record.components[row]))
            .for_each(|(t, c)| *t += c);
            group.faults[p] += u64::from(record.faults[a]);
        }
    }

    /// Each group's means per agent and episode played; `agents` is its size at the run's end.
    fn summaries(self, dims: &[&str]) -> Vec<GroupSummary> {
        let d = dims.len();
        (self.groups.into_iter())
            .map(|group| {
                let per = group.episodes.iter().sum::<u64>().max(1) as f64;
                // Member by member, each member's total over its episodes.
                let by_dimension = |totals: &[f64]| {
                    (dims.iter().enumerate())
                        .map(|(k, name)| {
                            let sum = totals.iter().skip(k).step_by(d).sum::<f64>();
                            ((*name).to_owned(), sum / per)
                        })
                        .collect()
                };
                GroupSummary {
                    mean_return: group.returns.iter().sum::<f64>() / per,
                    mean_rewards: by_dimension(&group.raw),
                    mean_components: by_dimension(&group.components),
                    faults: group.faults.iter().sum(),
                    label: group.label,
                    controller: group.controller,
                    agents: group.agents,
                }
            })
            .collect()
    }
}

/// Appends `,value` per value to a CSV row, an empty cell where it is undefined.
fn push_cells(csv: &mut String, values: impl IntoIterator<Item = Option<f64>>) {
    for value in values {
        match value {
            Some(v) => write!(csv, ",{v}").expect("writing to a String"),
            None => csv.push(','),
        }
    }
}

/// Plays `scenario.episodes` episodes on `sim`, which must be built from the scenario's config
/// (`scenario.sim()`, or with `records` of the caller's choosing; the first episode starts from a
/// reset with the scenario's seed, the others continue its streams), calling `before_step` before and `after_step` after every step played
/// and `record(episode, its record)` after every episode, in order.
///
/// At a `[[timeline]]` change's episode the Sim is rebuilt from the changed scenario, seeded
/// `derive_seed(seed, episode)`, its episodes numbered on, and `changed(change)` is called.
///
/// When the game repeats itself every `p` episodes with these agents
/// ([`socium_core::Rules::period`]: the repetitions of a deterministic tournament), only the first
/// `p` episodes are played and each later one is given the record of the one it repeats, as the
/// `axelrod` library serves the repetitions of deterministic matches from its cache. The records
/// are the same as playing every episode would give. Not where anything needs every episode
/// played ([`Scenario::repeats_every`]).
pub fn play(
    scenario: &Scenario,
    sim: &mut Sim,
    mut changed: impl FnMut(&Change) -> Result<(), RunError>,
    mut before_step: impl FnMut(&Sim),
    mut after_step: impl FnMut(&mut Sim) -> Result<(), RunError>,
    mut record: impl FnMut(u64, &EpisodeRecord) -> Result<(), RunError>,
) -> Result<(), RunError> {
    let period = scenario.repeats_every();
    let mut played: Vec<EpisodeRecord> = Vec::new();
    let mut current = EpisodeRecord::default();
    let width = |sim: &Sim| sim.agent_count() * sim.spaces().action.flat_dim();
    let mut actions = vec![0.0; width(sim)];
    // The values' rules in force: a change at an episode may retune them.
    let mut value_rules = scenario.config.values.clone();
    // `socium run`'s changes, in order (a generation's are `socium evolve`'s).
    let mut timeline = (scenario.timeline.iter())
        .filter(|c| c.when.episode().is_some())
        .peekable();
    for episode in 0..scenario.episodes {
        if let Some(p) = period
            && episode >= p
        {
            record(episode, &played[(episode % p) as usize])?;
            continue;
        }
        match timeline.next_if(|c| c.when == When::Episode(episode)) {
            Some(change) => {
                let mut config = change.scenario.config.clone();
                config.seed = derive_seed(scenario.config.seed, episode);
                // The run's readers do not change with the scenario.
                config.records = sim.env().keeps_records();
                *sim = Sim::new(&*change.scenario.game, config)?;
                sim.renumber_episode(episode);
                actions = vec![0.0; width(sim)];
                value_rules.clone_from(&change.scenario.config.values);
                changed(change)?;
            }
            None => sim.reset((episode == 0).then_some(scenario.config.seed)),
        }
        current.played = episode;
        current.steps = 0;
        current.utterances = 0;
        while !sim.is_done() {
            let now = When::Step {
                episode,
                step: current.steps as u32,
            };
            if let Some(change) = timeline.next_if(|c| c.when == now) {
                (sim.retune(&*change.scenario.game, &change.scenario.config.agents))
                    .map_err(|error| change.error(&scenario.file, error.to_string()))?;
                changed(change)?;
            }
            before_step(sim);
            sim.step(&actions).map_err(|error| RunError::Step {
                episode,
                step: current.steps,
                error,
            })?;
            current.steps += 1;
            current.utterances += sim.env().utterance_count();
            after_step(sim)?;
        }
        if let Some(change) = timeline.next_if(|c| c.when.episode() == Some(episode)) {
            let message = format!("the episode ended after {} steps", current.steps);
            return Err(change.error(&scenario.file, message));
        }
        let metrics = sim.env().metrics();
        current.metrics.clear();
        current
            .metrics
            .extend((0..scenario.game.metrics().len()).map(|i| metrics.mean(MetricId(i as u16))));
        current.returns.clear();
        current
            .returns
            .extend_from_slice(sim.env().episode_returns());
        current.raw.clear();
        current
            .raw
            .extend_from_slice(sim.env().episode_raw_rewards());
        current.components = sim.env().episode_reward_components();
        if scenario.graph_output {
            let env = sim.env();
            let agents = env.agents();
            let labels: Vec<&str> = agents.ids().map(|a| agents.label(a)).collect();
            current.graph = Some(GraphStats::of(env.graph(), &labels));
        }
        if let (Some(values), Some(rules)) = (sim.env().values(), &value_rules) {
            current.values = Some(ValueStats::of(values, sim.env().graph(), rules.confidence));
        }
        current.faults.clear();
        current
            .faults
            .extend_from_slice(sim.env().faults().episode());
        record(episode, &current)?;
        if period.is_some() {
            played.push(current.clone());
        }
    }
    Ok(())
}

/// Plays a scenario's episodes ([`play`]), writes `transcript.jsonl` (when the scenario keeps
/// one), `metrics.csv` and `summary.json` into `out` (each through a temporary file renamed at
/// the end), and calls `progress(episodes done)` after each episode. A run that fails leaves
/// `out` as it was: the folders it made (`out` and any missing parent) are removed again.
pub fn run(
    scenario: &Scenario,
    out: &Path,
    progress: impl FnMut(u64),
) -> Result<RunSummary, RunError> {
    let made: Vec<PathBuf> = (out.ancestors())
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_owned)
        .collect();
    let result = run_into(scenario, out, progress);
    if result.is_err() {
        // Empty by now, innermost first: the run's temporary files went with it. A folder that
        // was there is not ours to remove.
        for dir in &made {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
    result
}

fn run_into(
    scenario: &Scenario,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> Result<RunSummary, RunError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error| RunError::Io { path, error }
    };
    // The file's agents and those any `[[timeline]]` change brings.
    let every_phase = std::iter::once(&scenario.config.agents)
        .chain(scenario.timeline.iter().map(|c| &c.scenario.config.agents));
    let external: Vec<String> = (every_phase.flat_map(|agents| agents.iter().enumerate()))
        .filter(|(_, a)| a.controller == Controller::External)
        .map(|(i, _)| i)
        .collect::<std::collections::BTreeSet<usize>>()
        .iter()
        .map(usize::to_string)
        .collect();
    if !external.is_empty() {
        return Err(RunError::External {
            agents: external.join(", "),
        });
    }
    let config = SimConfig {
        records: scenario.reads_records(),
        ..scenario.config.clone()
    };
    if crate::holds_checkpoints(out) {
        let path = out.join(crate::CHECKPOINTS);
        return Err(RunError::EvolveFolder { path });
    }
    let mut sim = Sim::new(&*scenario.game, config)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    crate::remove_partial_files(out).map_err(io(out))?;
    let temp = || crate::temp_file_in(out, "").map_err(io(out));
    // Written by every step and by the timeline's changes.
    let transcript = RefCell::new(BufWriter::new(temp()?));

    let dims: Vec<&str> = sim
        .env()
        .reward_dimensions()
        .iter()
        .map(|d| d.name)
        .collect();
    let metric_names: Vec<&str> = scenario.game.metrics().iter().map(|m| m.name).collect();
    let mut header = vec!["episode".to_owned(), "steps".into()];
    header.extend(metric_names.iter().map(|m| (*m).to_owned()));
    header.push("mean_return".into());
    header.extend(dims.iter().map(|d| format!("mean_{d}")));
    if scenario.graph_output {
        header.extend(GRAPH_STATS.iter().map(|g| (*g).to_owned()));
    }
    if scenario.config.values.is_some() {
        header.extend(VALUE_STATS.iter().map(|v| (*v).to_owned()));
    }
    let mut csv = header.join(",") + "\n";

    let membership = RefCell::new(Membership::new(&scenario.config.agents, dims.len()));
    let layouts = RefCell::new(vec![Layout::of(&scenario.config.agents, 0, None)]);
    let mut metric_sums = vec![(0.0, 0u64); metric_names.len()];
    let mut steps = 0u64;
    let mut judging = scenario.judge.as_ref().map(|judge| Judging {
        judge,
        pairs: vec![(Vec::new(), Vec::new()); dims.len()],
        scored: 0,
        faults: 0,
    });
    let heard = RefCell::new(Vec::new());
    // The judge and attribution name the agents, as the changes in force label them.
    let named = scenario.judge.is_some() || scenario.attribution.is_some();
    let labels_of = |agents: &[AgentSpec]| -> Vec<String> {
        match named {
            true => agents.iter().map(|a| a.label.to_string()).collect(),
            false => Vec::new(),
        }
    };
    let labels = RefCell::new(labels_of(&scenario.config.agents));
    let judged = judging.is_some();
    let attributing =
        (scenario.attribution.as_ref()).map(|a| RefCell::new(Attributing::new(a, &sim)));
    let before_step = |sim: &Sim| {
        if let Some(a) = &attributing {
            a.borrow_mut().before_step(sim);
        }
    };
    let after_step = |sim: &mut Sim| {
        if judged {
            hear(&heard, sim);
        }
        if let Some(a) = &attributing {
            a.borrow_mut().after_step(sim);
        }
        (transcript.borrow_mut())
            .write_all(&sim.take_transcript())
            .map_err(io(out))
    };
    let mut preferences = String::new();
    let mut previous_raw = Vec::new();
    let (mut last_graph, mut last_values) = (None, None);
    let changed = |change: &Change| {
        let agents = &change.scenario.config.agents;
        membership.borrow_mut().assign(agents);
        *labels.borrow_mut() = labels_of(agents);
        let episode = (change.when.episode()).expect("`socium run` applies episode changes");
        let layout = Layout::of(agents, episode, change.when.step());
        let mut layouts = layouts.borrow_mut();
        if layouts
            .last()
            .is_none_or(|last| last.agents != layout.agents)
        {
            layouts.push(layout);
        }
        let line = TranscriptLine::Change {
            episode,
            step: change.when.step(),
            timeline: change.set.as_str().into(),
        };
        if scenario.config.transcript {
            let mut text = serde_json::to_string(&line).expect("lines serialise");
            text.push('\n');
            (transcript.borrow_mut())
                .write_all(text.as_bytes())
                .map_err(io(out))?;
        }
        Ok(())
    };
    play(
        scenario,
        &mut sim,
        changed,
        before_step,
        after_step,
        |episode, record| {
            if let Some(heron) = &scenario.heron {
                let previous = &previous_raw;
                write_preferences(
                    &mut preferences,
                    heron,
                    &dims,
                    episode,
                    &record.raw,
                    previous,
                );
                previous_raw.clone_from(&record.raw);
            }
            if let Some(a) = &attributing {
                a.borrow_mut()
                    .finish_episode(&*scenario.game, episode, &labels.borrow())?;
            }
            if let Some(j) = &mut judging {
                let lines = std::mem::take(&mut *heard.borrow_mut());
                (j.score(scenario, &labels.borrow(), &lines, &record.raw))
                    .map_err(|message| RunError::Judge { episode, message })?;
            }
            steps += record.steps;
            write!(csv, "{episode},{}", record.steps).expect("writing to a String");
            for ((sum, count), value) in metric_sums.iter_mut().zip(&record.metrics) {
                if let Some(v) = value {
                    *sum += v;
                    *count += 1;
                    write!(csv, ",{v}").expect("writing to a String");
                } else {
                    csv.push(',');
                }
            }
            // The episode's own agents: a timeline may change how many there are.
            let agents = record.returns.len() as f64;
            write!(csv, ",{}", record.returns.iter().sum::<f64>() / agents)
                .expect("writing to a String");
            for k in 0..dims.len() {
                let mean = record.raw.iter().skip(k).step_by(dims.len()).sum::<f64>() / agents;
                write!(csv, ",{mean}").expect("writing to a String");
            }
            if let Some(graph) = &record.graph {
                push_cells(&mut csv, graph.values());
                last_graph = Some(graph.clone());
            }
            if let Some(values) = &record.values {
                push_cells(&mut csv, values.values());
                last_values = Some(values.clone());
            }
            csv.push('\n');
            membership.borrow_mut().add(record);
            progress(episode + 1);
            Ok(())
        },
    )?;

    let groups = membership.into_inner().summaries(&dims);
    let mut summary = RunSummary {
        scenario: scenario.name.clone(),
        game: scenario.game.name().to_owned(),
        seed: scenario.config.seed,
        episodes: scenario.episodes,
        steps,
        metrics: metric_names
            .iter()
            .zip(&metric_sums)
            .filter(|(_, (_, count))| *count > 0)
            .map(|(name, (sum, count))| ((*name).to_owned(), sum / *count as f64))
            .collect(),
        groups,
        layouts: layouts.into_inner(),
        judge: judging.map(|j| j.summary(scenario)),
        graph: last_graph,
        values: last_values,
        attribution: None,
    };
    let mut attribution_lines = None;
    if let Some(a) = attributing {
        let mut a = a.into_inner();
        attribution_lines = Some(std::mem::take(&mut a.lines));
        summary.attribution = Some(a.summary(&*scenario.game));
    }

    let transcript = transcript
        .into_inner()
        .into_inner()
        .map_err(|e| RunError::Io {
            path: out.join(crate::TRANSCRIPT),
            error: e.into_error(),
        })?;
    // Every file is written before any is renamed: a failure on the way leaves the folder as it
    // was.
    let mut files: Vec<(NamedTempFile, &str)> = Vec::new();
    if scenario.config.transcript {
        files.push((transcript, crate::TRANSCRIPT));
    }
    let mut write = |bytes: &[u8], name| -> Result<(), RunError> {
        let mut file = temp()?;
        file.write_all(bytes).map_err(io(out))?;
        files.push((file, name));
        Ok(())
    };
    write(csv.as_bytes(), crate::METRICS)?;
    if scenario.heron.is_some() {
        write(preferences.as_bytes(), crate::PREFERENCES)?;
    }
    if scenario.graph_output {
        write(edge_list(sim.env().graph()).as_bytes(), crate::GRAPH)?;
    }
    if let Some(lines) = attribution_lines {
        write(lines.as_bytes(), crate::ATTRIBUTION)?;
    }
    let json = serde_json::to_string_pretty(&summary).expect("summaries serialise") + "\n";
    write(json.as_bytes(), crate::SUMMARY)?;
    // A folder in a file's place would refuse its rename half-way through the files.
    if let Some((_, name)) = files.iter().find(|(_, name)| out.join(name).is_dir()) {
        return Err(RunError::Io {
            path: out.join(name),
            error: std::io::Error::new(std::io::ErrorKind::IsADirectory, "a folder is in the way"),
        });
    }
    // The outputs of an earlier run or evolution that this one does not write go, with the
    // page `socium view` made of them: the folder holds one run.
    let earlier = (crate::RUN_FILES.into_iter())
        .chain(crate::EVOLVE_FILES)
        .chain([crate::PAGE]);
    let stale: Vec<PathBuf> = earlier
        .filter(|name| files.iter().all(|(_, written)| written != name))
        .map(|name| out.join(name))
        .collect();
    let files = (files.into_iter())
        .map(|(file, name)| (file, out.join(name)))
        .collect();
    crate::commit(files, &stale).map_err(|(path, error)| RunError::Io { path, error })?;
    Ok(summary)
}
