//! `socium._socium`: the Rust `VecEnv`, whose rows Python reads as read-only numpy arrays over
//! the VecEnv's own buffers, written in place at every step (no copy either way but the actions'
//! conversion, when they are not float32). The Python package `socium` (python/socium) builds
//! the PettingZoo env and the Gymnasium-style vector env on top of `RustVecEnv`.

use numpy::{
    Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn,
    ndarray::{ArrayViewD, IxDyn},
};
use pyo3::{
    create_exception,
    exceptions::{PyRuntimeError, PyValueError},
    prelude::*,
};
use socium_core::{
    AgentId, Game, Selection, StepError, VecEnv, VecStepError, space::ActionProblem,
};
use socium_llm::{AnswerFormat, DEFAULT_TEMPLATES};
use socium_scenario::{Override, Scenario};
use std::{path::Path, sync::Arc};

/// mimalloc, as in the `socium` binary: a VecEnv's thousands of envs hold many small allocations,
/// and mimalloc keeps those of one size together, which the caches feel once the envs outgrow
/// them (docs/BENCHMARKS.md). Rust's allocations only: Python and numpy keep their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(
    _socium,
    ScenarioError,
    PyValueError,
    "A scenario or an override was refused."
);
create_exception!(
    _socium,
    NoExternalAgentsError,
    ScenarioError,
    "A PettingZoo env of a scenario without `external` agents: nothing for a trainer to step."
);
create_exception!(
    _socium,
    ActionError,
    PyValueError,
    "An action was refused; nothing moved."
);
create_exception!(
    _socium,
    ActionShapeError,
    ActionError,
    "Actions of the wrong shape."
);
create_exception!(
    _socium,
    ActionDtypeError,
    ActionError,
    "Actions that are not numbers."
);
create_exception!(
    _socium,
    ActionNotFiniteError,
    ActionError,
    "A NaN or infinite action."
);
create_exception!(
    _socium,
    ActionNotIntegerError,
    ActionError,
    "A fractional discrete action."
);
create_exception!(
    _socium,
    ActionOutOfRangeError,
    ActionError,
    "An action outside its space."
);
create_exception!(
    _socium,
    ActionNotADistributionError,
    ActionError,
    "A probability distribution (a belief) that does not sum to 1."
);
create_exception!(
    _socium,
    ActionTextError,
    ActionError,
    "Free text where none is taken, or too long."
);
create_exception!(
    _socium,
    MaskedActionError,
    ActionError,
    "An action the mask forbids."
);

create_exception!(
    _socium,
    PolicyError,
    PyRuntimeError,
    "A policy failed or gave a NaN or infinite output; nothing moved."
);

/// The exception for a refused step.
fn step_error(e: VecStepError) -> PyErr {
    let message = e.to_string();
    match e {
        VecStepError::WrongShape {
            buffer: "actions", ..
        } => ActionShapeError::new_err(message),
        VecStepError::WrongShape { .. } => PyValueError::new_err(message),
        VecStepError::Env { error, .. } => match error {
            StepError::WrongShape { .. } => ActionShapeError::new_err(message),
            StepError::EpisodeOver => ActionError::new_err(message),
            StepError::PolicyFailed { .. } | StepError::PolicyOutput { .. } => {
                PolicyError::new_err(message)
            }
            StepError::BadAction { problem, .. } => match problem {
                ActionProblem::WrongLength { .. } => ActionShapeError::new_err(message),
                ActionProblem::NotFinite { .. } => ActionNotFiniteError::new_err(message),
                ActionProblem::NotInteger { .. } => ActionNotIntegerError::new_err(message),
                ActionProblem::OutOfRange { .. } => ActionOutOfRangeError::new_err(message),
                ActionProblem::Masked { .. } => MaskedActionError::new_err(message),
                ActionProblem::NotADistribution { .. } => {
                    ActionNotADistributionError::new_err(message)
                }
                ActionProblem::TextNotTaken { .. } | ActionProblem::TextTooLong { .. } => {
                    ActionTextError::new_err(message)
                }
            },
        },
    }
}

/// Makes the thread that builds the first env (Python's main thread, as a rule) worker 0 of
/// rayon's global pool, beside one spawned worker a further core. A step called from it then
/// forks and joins inside the pool, and the thread works on the step; a thread outside the pool
/// hands each step over and sleeps until it is done, a wake-up a step (a fifth of a 64-env step
/// on a 2-core VM, docs/BENCHMARKS.md). Built when the first env is, as rayon's default pool
/// would be, so a process that forks before that is not left with a pool whose threads it lacks;
/// a pool already built (by another library, say) is used as it is.
fn join_pool() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rayon::ThreadPoolBuilder::new()
            .use_current_thread()
            .build_global();
    });
}

/// N envs of one scenario, stepped in parallel with the GIL released; `outputs` gives their rows
/// as numpy arrays. While a step or reset runs, no other Python thread may read those arrays
/// (they are being written) or write the actions array it was given.
#[pyclass(module = "socium._socium")]
struct RustVecEnv {
    /// Never replaced: the arrays of `outputs` point into its buffers.
    env: VecEnv,
    spec: String,
    game: Arc<dyn Game>,
    /// How an agent answers in text, where the action space allows it.
    answers: Result<AnswerFormat, String>,
}

/// A read-only numpy array of `shape` over `data`, part of `owner`'s VecEnv rows, which it keeps
/// alive.
#[allow(
    unsafe_code,
    reason = "numpy's borrow_from_array: the array's memory is owned by `owner`"
)]
fn rows_array<'py, T: Element>(
    owner: &Bound<'py, RustVecEnv>,
    data: &[T],
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let view = ArrayViewD::from_shape(IxDyn(shape), data)
        .map_err(|e| PyRuntimeError::new_err(format!("rows of shape {shape:?}: {e}")))?;
    // SAFETY: `data` lies in the buffers of `owner`'s VecEnv, which are never reallocated while
    // the VecEnv lives (socium_core::VecEnv::outputs) and the VecEnv is never replaced while
    // `owner` does; `owner` is the array's base, so it outlives the array.
    let array = unsafe { PyArrayDyn::borrow_from_array(&view, owner.clone().into_any()) };
    // Read-only for good: the envs' own systems read these rows (a bot its observation) and
    // Python must not change them; without OWNDATA, numpy refuses to make them writeable again.
    array.try_readwrite()?.make_nonwriteable();
    Ok(array)
}

impl RustVecEnv {
    /// Agent `agent` of env `env`'s observation row and action mask.
    fn rows(&self, env: usize, agent: u32) -> PyResult<(&[f32], &[u8])> {
        let n = self.env.agent_count();
        if env >= self.env.num_envs() || agent as usize >= n {
            return Err(PyValueError::new_err(format!(
                "no agent {agent} in env {env}"
            )));
        }
        let view = self.env.env(env);
        let (od, md) = (view.observations().len() / n, view.action_masks().len() / n);
        let a = agent as usize;
        Ok((
            &view.observations()[a * od..(a + 1) * od],
            &view.action_masks()[a * md..(a + 1) * md],
        ))
    }

    fn answer_format(&self) -> PyResult<&AnswerFormat> {
        self.answers
            .as_ref()
            .map_err(|e| ScenarioError::new_err(format!("no text stepping for this game: {e}")))
    }
}

#[pymethods]
impl RustVecEnv {
    /// One env of the scenario at `path` with `overrides` (`"key=value"` strings, checked like
    /// the file) per seed; without seeds, `num_envs` envs seeded from the scenario's seed. With
    /// `text`, utterances carry rendered text (for `render`); without `records`, the envs keep no
    /// utterances or reward entries (`utterances` refuses) unless `[ties]` or `[values]` read
    /// them, and step faster.
    #[new]
    #[pyo3(signature = (path, overrides, seeds=None, num_envs=1, text=false, records=true))]
    fn new(
        path: &str,
        overrides: Vec<String>,
        seeds: Option<Vec<u64>>,
        num_envs: usize,
        text: bool,
        records: bool,
    ) -> PyResult<Self> {
        let mut scenario = load(path, &overrides)?;
        // A trainer's envs reset on their own schedule: there is no run-wide episode to change
        // at (a change by generation is `socium evolve`'s, and does not touch stepping).
        if let Some(change) = scenario
            .timeline
            .iter()
            .find(|c| c.when.episode().is_some())
        {
            let (line, column) = change.line_column;
            return Err(ScenarioError::new_err(format!(
                "{path}:{line}:{column}: `timeline`: a change at episode {} is applied by \
                 `socium run` only; step each phase's scenario in turn (its `set` as overrides)",
                change.when.episode().expect("found by its episode")
            )));
        }
        scenario.config.text = text;
        scenario.config.records = records;
        let seeds = seeds.unwrap_or_else(|| VecEnv::seeds(scenario.config.seed, num_envs));
        if seeds.is_empty() {
            return Err(PyValueError::new_err("a VecEnv needs at least one env"));
        }
        join_pool();
        let env = VecEnv::new(&*scenario.game, &scenario.config, &seeds)
            .map_err(|e| ScenarioError::new_err(e.to_string()))?;
        let first = env.env(0);
        let agents = first.agents();
        let spec = serde_json::json!({
            "name": scenario.name,
            "game": scenario.game.name(),
            "seeds": seeds,
            "scenario_seed": scenario.config.seed,
            "episodes": scenario.episodes,
            "agents": agents.ids().map(|a| serde_json::json!({
                "id": a.0,
                "label": agents.label(a),
                "controller": agents.controller(a).name(),
            })).collect::<Vec<_>>(),
            "external": env.external_agents(),
            "observation_space": env.spaces().observation,
            "action_space": env.spaces().action,
            "obs_dim": env.spaces().observation.flat_dim(),
            "action_dim": env.spaces().action.flat_dim(),
            "mask_dim": env.spaces().action.mask_dim(),
            "reward_dimensions": first.reward_dimensions().iter().map(|d| d.name).collect::<Vec<_>>(),
        });
        let answers = AnswerFormat::new(&env.spaces().action);
        Ok(RustVecEnv {
            env,
            spec: spec.to_string(),
            game: scenario.game.clone(),
            answers,
        })
    }

    /// The scenario's agents, spaces and reward dimensions, as JSON.
    #[getter]
    fn spec(&self) -> &str {
        &self.spec
    }

    /// Number of envs.
    #[getter]
    fn num_envs(&self) -> usize {
        self.env.num_envs()
    }

    /// The VecEnv's rows as read-only numpy arrays over its own buffers, written in place by
    /// every reset and step: `(obs, masks, acting, rewards, reward_components, terminated,
    /// truncated, actions)`, each `[envs, agents, ...]` (`actions`: every agent's action at the
    /// last step). Each keeps the VecEnv alive.
    #[allow(clippy::type_complexity)]
    fn outputs<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyArrayDyn<f32>>,
        Bound<'py, PyArrayDyn<u8>>,
        Bound<'py, PyArrayDyn<bool>>,
        Bound<'py, PyArrayDyn<f32>>,
        Bound<'py, PyArrayDyn<f32>>,
        Bound<'py, PyArrayDyn<bool>>,
        Bound<'py, PyArrayDyn<bool>>,
        Bound<'py, PyArrayDyn<f32>>,
    )> {
        let this = slf.borrow();
        let (env, rows) = (&this.env, this.env.outputs());
        let (n, a) = (env.num_envs(), env.agent_count());
        let per_agent = |len: usize| len / (n * a).max(1);
        let with_dim = |len: usize| [n, a, per_agent(len)];
        Ok((
            rows_array(slf, &rows.obs, &with_dim(rows.obs.len()))?,
            rows_array(slf, &rows.masks, &with_dim(rows.masks.len()))?,
            rows_array(slf, &rows.acting, &[n, a])?,
            rows_array(slf, &rows.rewards, &[n, a])?,
            rows_array(
                slf,
                &rows.reward_components,
                &with_dim(rows.reward_components.len()),
            )?,
            rows_array(slf, &rows.terminated, &[n, a])?,
            rows_array(slf, &rows.truncated, &[n, a])?,
            rows_array(slf, &rows.actions, &with_dim(rows.actions.len()))?,
        ))
    }

    /// Resets every env (env `i` with `seeds[i]` when seeds are given, continuing its streams
    /// otherwise), writing the first observations into the rows.
    #[pyo3(signature = (seeds=None))]
    fn reset(&mut self, py: Python<'_>, seeds: Option<Vec<u64>>) -> PyResult<()> {
        let env = &mut self.env;
        py.detach(|| env.reset(seeds.as_deref()))
            .map_err(step_error)
    }

    /// Steps every env with `actions` (`[envs, agents, action_dim]` float32), writing the results
    /// into the rows; raises an `ActionError` subclass, with nothing moved, for a bad action.
    fn step(&mut self, py: Python<'_>, actions: PyReadonlyArrayDyn<'_, f32>) -> PyResult<()> {
        let actions = actions
            .as_slice()
            .map_err(|e| ActionShapeError::new_err(format!("actions must be C-contiguous: {e}")))?;
        let env = &mut self.env;
        // An array over this env's own rows (`actions_taken()` passed back, say) would be written
        // by the step that reads it: the step reads a copy.
        let copied;
        let actions = match env.outputs().overlaps(actions) {
            true => {
                copied = actions.to_vec();
                &copied[..]
            }
            false => actions,
        };
        py.detach(|| env.step(actions)).map_err(step_error)
    }

    /// Sets the free text agent `agent` of env `env` sends with its next action (the action space
    /// has a text part); raises `ActionTextError` for text not taken or too long.
    fn set_text(&mut self, env: usize, agent: u32, text: &str) -> PyResult<()> {
        if env >= self.env.num_envs() {
            return Err(PyValueError::new_err(format!("no env {env}")));
        }
        self.env
            .set_text(env, AgentId(agent), text)
            .map_err(step_error)
    }

    /// Drops every text set for the next step.
    fn clear_texts(&mut self) {
        self.env.clear_texts();
    }

    /// Writes every agent's raw per-dimension reward at the last step (its ledger entries summed,
    /// before any transform; `[envs, agents, dims]` float64) into `out`.
    fn raw_rewards(&self, mut out: PyReadwriteArrayDyn<'_, f64>) -> PyResult<()> {
        let out = out
            .as_slice_mut()
            .map_err(|e| PyValueError::new_err(format!("out must be C-contiguous: {e}")))?;
        let per_env = out.len() / self.env.num_envs().max(1);
        for (i, row) in out.chunks_mut(per_env.max(1)).enumerate() {
            let raw = self.env.env(i).raw_rewards();
            if raw.len() != row.len() {
                return Err(PyValueError::new_err(format!(
                    "out has {} values per env, the env {}",
                    row.len(),
                    raw.len()
                )));
            }
            row.copy_from_slice(raw);
        }
        Ok(())
    }

    /// Writes every agent's value (`[values]`; `[envs, agents]` float64) into `out`; false,
    /// writing nothing, when the scenario gives agents no values.
    fn values(&self, mut out: PyReadwriteArrayDyn<'_, f64>) -> PyResult<bool> {
        let out = out
            .as_slice_mut()
            .map_err(|e| PyValueError::new_err(format!("out must be C-contiguous: {e}")))?;
        let per_env = out.len() / self.env.num_envs().max(1);
        for (i, row) in out.chunks_mut(per_env.max(1)).enumerate() {
            let Some(values) = self.env.env(i).values() else {
                return Ok(false);
            };
            if values.len() != row.len() {
                return Err(PyValueError::new_err(format!(
                    "out has {} values per env, the env {}",
                    row.len(),
                    values.len()
                )));
            }
            row.copy_from_slice(values);
        }
        Ok(true)
    }

    /// The system and user messages that ask agent `agent` of env `env` for its act, from its
    /// current observation and mask: the game in words, as a language-model controller asks.
    fn prompt(&self, env: usize, agent: u32) -> PyResult<(String, String)> {
        let (obs, mask) = self.rows(env, agent)?;
        let format = self.answer_format()?;
        let n = self.env.agent_count();
        let [system, user] = socium_llm::messages(
            &*self.game,
            n,
            format,
            DEFAULT_TEMPLATES,
            AgentId(agent),
            obs,
            mask,
        );
        Ok((system, user))
    }

    /// Agent `agent` of env `env`'s answer `text`, parsed as a language-model controller parses
    /// it: `(action row, words said, None)`, or `(the default act's row, None, what is wrong)`.
    fn answer(
        &self,
        env: usize,
        agent: u32,
        text: &str,
    ) -> PyResult<(Vec<f32>, Option<String>, Option<String>)> {
        let (_, mask) = self.rows(env, agent)?;
        let format = self.answer_format()?;
        let (answer, error) = match format.parse(text, mask) {
            Ok(answer) => (answer, None),
            Err(bad) => (format.default_answer(mask), Some(bad.0)),
        };
        let space = &self.env.spaces().action;
        let mut row = vec![0.0; space.flat_dim()];
        space.select(&answer.head, mask, Selection::Argmax, None, &mut row);
        Ok((row, answer.say, error))
    }

    /// The utterances of env `env`'s last step, as transcript lines (JSON, in the format of
    /// `transcript.jsonl`): each utterance with the reward entries it caused, after the entries
    /// settling utterances of earlier steps (never the file's roles line).
    fn utterances(&self, env: usize) -> PyResult<String> {
        if env >= self.env.num_envs() {
            return Err(PyValueError::new_err(format!("no env {env}")));
        }
        let view = self.env.env(env);
        if !view.keeps_records() {
            return Err(PyRuntimeError::new_err(
                "this VecEnv keeps no records (made with records=False): make it with \
                 records=True to read each step's utterances",
            ));
        }
        let lines = view.transcript_lines();
        Ok(serde_json::to_string(&lines).expect("transcript lines serialise"))
    }
}

/// Loads a scenario with `"key=value"` overrides.
fn load(path: &str, overrides: &[String]) -> PyResult<Scenario> {
    let overrides = overrides
        .iter()
        .map(|o| o.parse::<Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ScenarioError::new_err)?;
    Scenario::load_with_overrides(Path::new(path), &overrides)
        .map_err(|e| ScenarioError::new_err(e.to_string()))
}

/// The seed a scenario file names, with `"key=value"` overrides applied.
#[pyfunction]
fn scenario_seed(path: &str, overrides: Vec<String>) -> PyResult<u64> {
    Ok(load(path, &overrides)?.config.seed)
}

/// Run `run` of the scenario's `[evolution]` (seeded from `seed`, default the scenario's, and
/// `run`), with the GIL released; returns its type labels and per-generation records as JSON.
#[pyfunction]
#[pyo3(signature = (path, overrides, run, seed=None))]
fn evolve(
    py: Python<'_>,
    path: &str,
    overrides: Vec<String>,
    run: u64,
    seed: Option<u64>,
) -> PyResult<String> {
    let scenario = load(path, &overrides)?;
    let seed = seed.unwrap_or(scenario.config.seed);
    let result = py
        .detach(|| socium_evo::run_scenario(&scenario, run, seed, None, &|| ()))
        .map_err(|e| ScenarioError::new_err(e.to_string()))?;
    let generations: Vec<_> = result
        .generations
        .iter()
        .map(|g| {
            serde_json::json!({
                "counts": g.counts, "mean_payoff": g.mean_payoff, "cooperation": g.cooperation,
                "reputation": g.reputation, "parameters": g.parameters,
            })
        })
        .collect();
    let json = serde_json::json!({
        "labels": result.labels, "parameters": result.parameters, "generations": generations,
    });
    Ok(json.to_string())
}

/// Names the ONNX Runtime library to load for policy agents when neither a scenario nor
/// `ORT_DYLIB_PATH` names one; nothing is loaded until a policy needs it.
/// HERON's preference between outcomes `a` and `b` (each reward factor's value), the factors
/// looked at in `order` (most important first) with their `margins`: `(0 or 1, the deciding
/// factor)`, or `None` when no factor differs by more than its margin (Bukharin et al. 2023).
#[pyfunction]
fn heron_preference(
    a: Vec<f64>,
    b: Vec<f64>,
    order: Vec<usize>,
    margins: Vec<f64>,
) -> PyResult<Option<(usize, usize)>> {
    let factors = a.len();
    if b.len() != factors || order.len() != margins.len() || order.iter().any(|&k| k >= factors) {
        return Err(PyValueError::new_err(format!(
            "expected a and b of one length ({factors}, {}), and `order` (factor indices below \
             {factors}) as long as `margins` ({} and {})",
            b.len(),
            order.len(),
            margins.len()
        )));
    }
    let preference = socium_core::heron::prefer(&a, &b, &order, &margins);
    Ok(preference.map(|p| (p.preferred, p.factor)))
}

#[pyfunction]
fn prefer_onnxruntime(path: std::path::PathBuf) {
    socium_policy::runtime::prefer(path);
}

/// The seeds of `num_envs` envs derived from `master` (as `VecEnv::seeds` in Rust).
#[pyfunction]
fn env_seeds(master: u64, num_envs: usize) -> Vec<u64> {
    VecEnv::seeds(master, num_envs)
}

/// The name of every registered game (`[game.<name>]`), in registry order.
#[pyfunction]
fn games() -> Vec<&'static str> {
    socium_scenario::GAME_NAMES.to_vec()
}

/// The extension module.
#[pymodule]
fn _socium(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RustVecEnv>()?;
    m.add_function(wrap_pyfunction!(env_seeds, m)?)?;
    m.add_function(wrap_pyfunction!(games, m)?)?;
    m.add_function(wrap_pyfunction!(scenario_seed, m)?)?;
    m.add_function(wrap_pyfunction!(evolve, m)?)?;
    m.add_function(wrap_pyfunction!(prefer_onnxruntime, m)?)?;
    m.add_function(wrap_pyfunction!(heron_preference, m)?)?;
    let py = m.py();
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add(
        "NoExternalAgentsError",
        py.get_type::<NoExternalAgentsError>(),
    )?;
    m.add("ActionError", py.get_type::<ActionError>())?;
    m.add("ActionShapeError", py.get_type::<ActionShapeError>())?;
    m.add("ActionDtypeError", py.get_type::<ActionDtypeError>())?;
    m.add(
        "ActionNotFiniteError",
        py.get_type::<ActionNotFiniteError>(),
    )?;
    m.add(
        "ActionNotIntegerError",
        py.get_type::<ActionNotIntegerError>(),
    )?;
    m.add(
        "ActionOutOfRangeError",
        py.get_type::<ActionOutOfRangeError>(),
    )?;
    m.add("MaskedActionError", py.get_type::<MaskedActionError>())?;
    m.add(
        "ActionNotADistributionError",
        py.get_type::<ActionNotADistributionError>(),
    )?;
    m.add("ActionTextError", py.get_type::<ActionTextError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    Ok(())
}
