//! `[attribution]`: episode-to-utterance attribution in `socium run` (Sotopia-RL; Yu et al.
//! 2025, arXiv 2508.03905). After every episode each agent's score on each chosen dimension is
//! spread over its utterances by the scenario's method (see `socium_core::attribution`), written
//! to `attribution.jsonl` beside the exact values, and measured against them in `summary.json`.

use crate::{
    RunError, ScenarioError,
    schema::{AttributionMethod, AttributionSpec},
};
use serde::Serialize;
use socium_core::{
    AgentId, Agreement, Game, Sim,
    attribution::{EpisodeLog, attribute},
};
use socium_llm::Judge;
use socium_policy::WeightModel;
use std::{collections::BTreeMap, fmt::Write as _, path::Path, sync::Arc};

/// `[attribution]`, resolved.
#[derive(Clone)]
pub struct Attribution {
    /// How utterances are weighed.
    pub method: Method,
    /// The dimensions attributed (indices into the game's), in the game's order.
    pub dimensions: Vec<usize>,
}

/// How utterances are weighed.
#[derive(Clone)]
pub enum Method {
    /// Equal weights.
    Uniform,
    /// The game's own per-utterance values.
    Exact,
    /// An ONNX model's weight of the speaker's observation.
    Onnx(Arc<WeightModel>),
    /// A language model's 0–3 rating of each utterance.
    Llm(Arc<Judge>),
}

impl Method {
    /// The method as `summary.json` names it.
    pub fn name(&self) -> String {
        match self {
            Method::Uniform => "uniform".into(),
            Method::Exact => "exact".into(),
            Method::Onnx(model) => format!("onnx ({})", model.path().display()),
            Method::Llm(judge) => format!("llm ({})", judge.model()),
        }
    }
}

impl Attribution {
    /// Resolves `spec` for `game` played by `agents` agents; `dir` anchors relative paths,
    /// `runtime` is the scenario's ONNX Runtime library, `at` makes located errors.
    pub(crate) fn resolve(
        spec: AttributionSpec,
        game: &dyn Game,
        agents: usize,
        dir: &Path,
        runtime: Option<&Path>,
        at: &impl Fn(std::ops::Range<usize>, String) -> ScenarioError,
    ) -> Result<Attribution, ScenarioError> {
        let names: Vec<&str> = game.reward_dimensions().iter().map(|d| d.name).collect();
        let dimensions = match spec.dimensions {
            None => (0..names.len()).collect(),
            Some(given) => {
                let span = given.span();
                let mut chosen = Vec::new();
                for name in given.get_ref() {
                    let Some(k) = names.iter().position(|n| n == name) else {
                        let message = format!(
                            "`dimensions`: game `{}` has no reward dimension `{name}`; it has {}",
                            game.name(),
                            names.join(", ")
                        );
                        return Err(at(span, message));
                    };
                    if chosen.contains(&k) {
                        return Err(at(span, format!("`dimensions` names `{name}` twice")));
                    }
                    chosen.push(k);
                }
                if chosen.is_empty() {
                    return Err(at(span, "`dimensions`: expected at least one".into()));
                }
                chosen.sort_unstable();
                chosen
            }
        };
        let span = spec.method.span();
        let method = match spec.method.into_inner() {
            AttributionMethod::Uniform => Method::Uniform,
            AttributionMethod::Exact => Method::Exact,
            AttributionMethod::Onnx { model } => {
                let obs_dim = game.observation_space(agents).flat_dim();
                let model = WeightModel::load(&dir.join(model), obs_dim, names.len(), runtime)
                    .map_err(|e| at(span, e.to_string()))?;
                Method::Onnx(Arc::new(model))
            }
            AttributionMethod::Llm(config) => {
                Method::Llm(Arc::new(Judge::new(*config, dir).map_err(|e| at(span, e))?))
            }
        };
        Ok(Attribution { method, dimensions })
    }
}

/// How an attribution did over a run, against the exact values: `summary.json`'s `attribution`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttributionSummary {
    /// The method.
    pub method: String,
    /// Utterances attributed.
    pub utterances: usize,
    /// Agent-episodes whose score had no utterance to go to (the agent never spoke).
    pub unattributed: usize,
    /// Agent-episodes the language model gave no usable ratings for (after its retries), whose
    /// utterances were weighed equally.
    #[serde(skip_serializing_if = "is_zero")]
    pub faults: usize,
    /// Per dimension: the attributed values' agreement with the exact ones, over the utterances.
    pub dimensions: BTreeMap<String, Agreement>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A line of `attribution.jsonl`: an utterance's attributed and exact values on the chosen
/// dimensions, and what its speaker saw (a weight model's input; training data for one).
#[derive(Serialize)]
struct Line<'a> {
    episode: u64,
    utterance: u64,
    step: u32,
    agent: AgentId,
    attributed: BTreeMap<&'static str, f64>,
    exact: BTreeMap<&'static str, f64>,
    observation: &'a [f32],
}

/// What an attribution gathers over a run.
pub(crate) struct Attributing<'a> {
    spec: &'a Attribution,
    log: EpisodeLog,
    /// The observations the agents act on at the coming step.
    observed: Vec<f32>,
    /// `attribution.jsonl`'s lines.
    pub(crate) lines: String,
    /// Per chosen dimension: the attributed and the exact values, paired.
    pairs: Vec<(Vec<f64>, Vec<f64>)>,
    unattributed: usize,
    faults: usize,
}

impl<'a> Attributing<'a> {
    pub(crate) fn new(spec: &'a Attribution, sim: &Sim) -> Self {
        let dims = sim.env().reward_dimensions().len();
        let obs_dim = sim.spaces().observation.flat_dim();
        Attributing {
            spec,
            log: EpisodeLog::new(sim.agent_count(), dims, obs_dim),
            observed: Vec::new(),
            lines: String::new(),
            pairs: vec![(Vec::new(), Vec::new()); spec.dimensions.len()],
            unattributed: 0,
            faults: 0,
        }
    }

    /// Notes what the agents see before a step.
    pub(crate) fn before_step(&mut self, sim: &Sim) {
        self.observed.clear();
        self.observed.extend_from_slice(sim.env().observations());
    }

    /// Adds the step just played.
    pub(crate) fn after_step(&mut self, sim: &Sim) {
        let env = sim.env();
        self.log
            .record(&self.observed, env.utterances(), env.reward_entries());
    }

    /// Attributes the episode just finished, appends its lines and empties the log.
    pub(crate) fn finish_episode(
        &mut self,
        game: &dyn Game,
        episode: u64,
        labels: &[String],
    ) -> Result<(), RunError> {
        let log = &self.log;
        let (d, all) = (log.dims(), game.reward_dimensions());
        let chosen = &self.spec.dimensions;
        let attributed = match &self.spec.method {
            Method::Exact => (0..log.spoken().len())
                .flat_map(|i| log.exact(i).iter().copied())
                .collect(),
            Method::Uniform => attribute(log, |_, mine| vec![1.0; mine.len() * d]),
            Method::Onnx(model) => {
                let mut failed = None;
                let out = attribute(log, |_, mine| {
                    let obs: Vec<f32> = (mine.iter())
                        .flat_map(|&i| log.observation(i).iter().copied())
                        .collect();
                    model.weigh(&obs).unwrap_or_else(|e| {
                        failed.get_or_insert(e);
                        vec![1.0; mine.len() * d]
                    })
                });
                if let Some(message) = failed {
                    return Err(RunError::Attribution { episode, message });
                }
                out
            }
            Method::Llm(judge) => {
                let mut episode_text = String::new();
                for s in log.spoken() {
                    let (id, step, agent) = (s.id.0, s.step, s.agent);
                    writeln!(episode_text, "u{id} [step {step}] [{agent}] {}", s.words)
                        .expect("writing to a String");
                }
                let infos: Vec<_> = chosen.iter().map(|&k| &all[k]).collect();
                let (faults, mut stopped) = (&mut self.faults, None);
                let out = attribute(log, |agent, mine| {
                    let mut weights = vec![1.0; mine.len() * d];
                    if stopped.is_some() {
                        return weights;
                    }
                    let ids: Vec<u64> = mine.iter().map(|&i| log.spoken()[i].id.0).collect();
                    let who = format!("{agent} ({})", labels[agent.index()]);
                    match judge.rate(game.name(), &infos, &episode_text, &who, &ids) {
                        Err(stop) => stopped = Some(stop),
                        Ok(Ok(ratings)) => {
                            for (row, rated) in
                                (weights.chunks_mut(d)).zip(ratings.chunks(chosen.len()))
                            {
                                for (&k, &r) in chosen.iter().zip(rated) {
                                    row[k] = r;
                                }
                            }
                        }
                        Ok(Err(_)) => *faults += 1,
                    }
                    weights
                });
                // The server refused, or was never reached: every rating would fail alike.
                if let Some(message) = stopped {
                    return Err(RunError::Attribution { episode, message });
                }
                out
            }
        };
        for agent in (0..labels.len()).map(|a| AgentId(a as u32)) {
            let silent = chosen.iter().any(|&k| log.unattributed(agent, k) != 0.0);
            self.unattributed += usize::from(silent);
        }
        for (i, s) in log.spoken().iter().enumerate() {
            let (exact, given) = (log.exact(i), &attributed[i * d..(i + 1) * d]);
            for (j, &k) in chosen.iter().enumerate() {
                self.pairs[j].0.push(given[k]);
                self.pairs[j].1.push(exact[k]);
            }
            let named = |values: &[f64]| chosen.iter().map(|&k| (all[k].name, values[k])).collect();
            let line = Line {
                episode,
                utterance: s.id.0,
                step: s.step,
                agent: s.agent,
                attributed: named(given),
                exact: named(exact),
                observation: log.observation(i),
            };
            self.lines
                .push_str(&serde_json::to_string(&line).expect("lines serialise"));
            self.lines.push('\n');
        }
        self.log.clear();
        Ok(())
    }

    pub(crate) fn summary(self, game: &dyn Game) -> AttributionSummary {
        let all = game.reward_dimensions();
        AttributionSummary {
            method: self.spec.method.name(),
            utterances: self.pairs.first().map_or(0, |p| p.0.len()),
            unattributed: self.unattributed,
            faults: self.faults,
            dimensions: (self.spec.dimensions.iter().zip(&self.pairs))
                .map(|(&k, (given, exact))| (all[k].name.to_owned(), Agreement::of(given, exact)))
                .collect(),
        }
    }
}
