//! `socium bench`: the engine's own speed measurements (figures in docs/BENCHMARKS.md).

use anyhow::{Context, Result};
use clap::Subcommand;
use ort::{
    session::{Session, builder::GraphOptimizationLevel},
    value::TensorRef,
};
use serde::Serialize;
use socium_core::{
    Controller, Policy, PolicyBatch, PolicyController, PolicyError, Selection, SimConfig, VecEnv,
};
use socium_policy::OnnxPolicy;
use socium_scenario::{Override, Scenario, When};
use std::{
    num::NonZeroUsize,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Instant,
};

#[derive(Subcommand)]
pub enum Bench {
    /// Scripted decisions per second through a VecEnv of a scenario's game, at one or several env
    /// counts and thread counts timed side by side in rounds: each round times every setting
    /// once, so that a slow spell of a shared machine falls on all of them alike. The envs keep
    /// no transcript, and per-act records only where `socium run` would (a judge, an
    /// attribution, or the kernel's own `[ties]` and `[values]`) or `--records` asks.
    Vecenv {
        /// The scenario (no external agents: every agent scripted, random or a policy, whose
        /// forward passes, or a language model's requests, are timed with the game).
        scenario: PathBuf,
        /// Override a scenario value, checked like the file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
        /// Envs in the VecEnv, or a comma-separated list of counts to compare (`16,64,1024`).
        #[arg(long, value_delimiter = ',', default_value = "1024")]
        envs: Vec<usize>,
        /// Steps timed per repeat at the largest env count; a smaller count takes proportionally
        /// more, so that every count is timed over the same env-steps.
        #[arg(long, default_value = "200")]
        steps: NonZeroUsize,
        /// Rayon threads, or a comma-separated list (default: one per core).
        #[arg(long, value_delimiter = ',')]
        threads: Vec<usize>,
        /// Timed rounds (each setting's median is reported).
        #[arg(long, default_value = "5")]
        repeats: NonZeroUsize,
        /// Print one JSON object per setting, a line each, instead of a table.
        #[arg(long)]
        json: bool,
        /// Keep every step's utterances and reward entries, as the Python `VecEnv` does unless
        /// made with `records=False`.
        #[arg(long)]
        records: bool,
    },
    /// Env-steps per second with every agent on one ONNX policy, and the time Socium's policy
    /// controller takes against the same forward passes (recorded batches) run by ort alone:
    /// back to back, and between the same game steps.
    Policy {
        /// The scenario whose game is played (its agents' controllers are replaced; default: the
        /// repository's benches/donor_policy.toml, wherever the command runs).
        scenario: Option<PathBuf>,
        /// The ONNX model every agent runs (default: the repository's
        /// assets/policies/donor_bench_mlp.onnx).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Envs in the VecEnv.
        #[arg(long, default_value = "1024")]
        envs: NonZeroUsize,
        /// Steps timed per repeat.
        #[arg(long, default_value = "48")]
        steps: NonZeroUsize,
        /// Rayon threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Timed repeats of each side, alternated (the medians are reported).
        #[arg(long, default_value = "7")]
        repeats: NonZeroUsize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Generations per second of one run of a scenario's [evolution], on one thread.
    Evolve {
        /// The scenario, with an [evolution] table (default: the repository's
        /// benches/moran_tft_alld.toml, wherever the command runs).
        scenario: Option<PathBuf>,
        /// Generations per timed run (default: the scenario's).
        #[arg(long)]
        generations: Option<u32>,
        /// Timed runs after one warm-up (the median is reported).
        #[arg(long, default_value = "5")]
        repeats: NonZeroUsize,
        /// Play every generation, even where a population seen before could be remembered
        /// (`[evolution] memoize = false`).
        #[arg(long)]
        play_every_generation: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every episode of a scenario (a whole tournament, say) on one thread, timed.
    Scenario {
        /// The scenario (no external agents: every agent scripted, random or a policy, whose
        /// forward passes, or a language model's requests, are timed with the game).
        scenario: PathBuf,
        /// Override a scenario value, checked like the file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
        /// Timed repeats after one warm-up (the median is reported).
        #[arg(long, default_value = "5")]
        repeats: NonZeroUsize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A scenario's set-up (reading it, building the Sim: its agents, first reset and graph) and
    /// then its episodes, timed apart, once and cold, as `socium run` meets them: run it in fresh
    /// processes (benches/million_agents.sh alternates 100,000 and 1,000,000 agents).
    Setup {
        /// The scenario (no external agents: every agent scripted, random or a policy, whose
        /// forward passes, or a language model's requests, are timed with the game).
        scenario: PathBuf,
        /// Override a scenario value, checked like the file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct SetupReport {
    agents: usize,
    steps: u64,
    /// Reading and checking the scenario.
    load_seconds: f64,
    /// Building the Sim, its first reset and its graph.
    build_seconds: f64,
    /// Playing its episodes.
    play_seconds: f64,
}

#[derive(Serialize)]
struct VecEnvReport {
    scenario: String,
    game: &'static str,
    envs: usize,
    agents: usize,
    threads: usize,
    steps: usize,
    /// Whether the envs kept every step's utterances and reward entries.
    records: bool,
    decisions_per_repeat: u64,
    seconds: Vec<f64>,
    median_seconds: f64,
    decisions_per_second: f64,
    decisions_per_second_per_core: f64,
    agent_steps_per_second: f64,
    /// The median over rounds of this setting's decisions/s over that of the first env count
    /// with as many threads, in the same round.
    vs_first_envs: f64,
}

/// One setting of `bench vecenv`: a VecEnv built and warmed up in its thread pool.
struct VecEnvSetting {
    pool: Arc<rayon::ThreadPool>,
    env: VecEnv,
    actions: Vec<f32>,
    envs: usize,
    steps: usize,
    /// Acting agents over the timed steps of the last round.
    decisions: u64,
    seconds: Vec<f64>,
    /// Decisions per second, a round each.
    rates: Vec<f64>,
}

impl VecEnvSetting {
    /// Builds the VecEnv inside its pool, whose thread count decides how its envs are cut into
    /// blocks, and warms it up.
    fn new(s: &Scenario, pool: Arc<rayon::ThreadPool>, envs: usize, steps: usize) -> Result<Self> {
        let seeds = VecEnv::seeds(s.config.seed, envs);
        let agents = s.config.agents.len();
        let actions = vec![0.0; envs * agents * s.game.action_space(agents).flat_dim()];
        let env = pool.install(|| -> Result<_> {
            let mut env =
                VecEnv::new(&*s.game, &s.config, &seeds).context("building the VecEnv")?;
            env.reset(Some(&seeds))?;
            for _ in 0..steps.min(50) {
                env.step(&actions)?;
            }
            Ok(env)
        })?;
        Ok(VecEnvSetting {
            pool,
            env,
            actions,
            envs,
            steps,
            decisions: 0,
            seconds: Vec::new(),
            rates: Vec::new(),
        })
    }

    /// Times one round's steps, inside the pool; returns the decisions made per second.
    fn time(&mut self) -> Result<f64> {
        // A pool timed just before may still spin its idle workers on the other core.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let VecEnvSetting {
            pool,
            env,
            actions,
            steps,
            ..
        } = self;
        let (decisions, seconds) = pool.install(|| -> Result<_> {
            let mut decisions = 0u64;
            let start = Instant::now();
            for _ in 0..*steps {
                decisions += env.outputs().acting.iter().filter(|&&a| a).count() as u64;
                env.step(actions)?;
            }
            Ok((decisions, start.elapsed().as_secs_f64()))
        })?;
        self.decisions = decisions;
        self.seconds.push(seconds);
        self.rates.push(decisions as f64 / seconds);
        Ok(decisions as f64 / seconds)
    }
}

#[derive(Serialize)]
struct EvolveReport {
    scenario: String,
    game: &'static str,
    agents: usize,
    episodes_per_generation: u32,
    generations: u32,
    seconds: Vec<f64>,
    median_seconds: f64,
    generations_per_second: f64,
    /// Whether populations seen before were remembered rather than played.
    memoize: bool,
}

#[derive(Serialize)]
struct ScenarioReport {
    scenario: String,
    game: &'static str,
    episodes: u64,
    #[serde(flatten)]
    counts: Counts,
    seconds: Vec<f64>,
    median_seconds: f64,
    runs_per_second: f64,
    played_decisions_per_second: f64,
}

/// Steps and decisions (utterances) of a run's episodes, and of those played rather than repeated
/// from an earlier episode's record (see `socium_scenario::play`).
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct Counts {
    steps: u64,
    decisions: u64,
    played_steps: u64,
    played_decisions: u64,
}

#[derive(Serialize)]
struct PolicyReport {
    scenario: String,
    model: String,
    envs: usize,
    agents: usize,
    threads: usize,
    steps: usize,
    forward_passes: usize,
    rows: usize,
    step_seconds: Vec<f64>,
    controller_seconds: Vec<f64>,
    forward_seconds: Vec<f64>,
    ort_seconds: Vec<f64>,
    ort_between_steps_seconds: Vec<f64>,
    step_median_seconds: f64,
    controller_median_seconds: f64,
    forward_median_seconds: f64,
    ort_median_seconds: f64,
    ort_between_steps_median_seconds: f64,
    env_steps_per_second: f64,
    /// The controller (gather, forward passes, selection) over ort alone back to back, − 1.
    controller_overhead: f64,
    /// The controller over ort alone between the same game steps, − 1.
    controller_overhead_between_steps: f64,
    /// The whole step (the game included) over ort alone, − 1.
    step_overhead: f64,
}

/// A batch a policy was given, as the model's inputs: rows of observations, of action masks (as
/// floats; none for a model that takes no mask) and of recurrent states (none for a model
/// without one).
struct Recorded {
    rows: usize,
    obs: Vec<f32>,
    mask: Vec<f32>,
    state: Vec<f32>,
}

/// A policy that keeps a copy of every batch it is given, then runs the real one.
struct Recorder {
    inner: Arc<OnnxPolicy>,
    batches: Mutex<Vec<Recorded>>,
}

impl Policy for Recorder {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn extras(&self) -> &[(String, usize)] {
        self.inner.extras()
    }

    fn state_width(&self) -> usize {
        self.inner.state_width()
    }

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError> {
        let mask = match self.inner.takes_mask() {
            true => batch.masks.iter().map(|&m| f32::from(m)).collect(),
            false => Vec::new(),
        };
        let copy = Recorded {
            rows: batch.rows,
            obs: batch.obs.to_vec(),
            mask,
            state: batch.state.to_vec(),
        };
        self.batches.lock().expect("not poisoned").push(copy);
        self.inner.forward(batch)
    }
}

/// `config` with every agent on `controller`.
fn all_on(config: &SimConfig, controller: Controller) -> SimConfig {
    let mut config = config.clone();
    for a in &mut config.agents {
        a.controller = controller.clone();
    }
    config
}

/// Every agent on `policy`, by argmax.
fn argmax(policy: Arc<dyn Policy>) -> Controller {
    Controller::Policy(PolicyController {
        policy,
        selection: Selection::Argmax,
    })
}

/// One step of the recorded run: the batch the policy was given, if it ran, and every agent's
/// action.
struct RecordedStep {
    batch: Option<Recorded>,
    actions: Vec<f32>,
}

/// Runs `steps` steps from a seeded reset with every agent on `recorder`, noting each step.
fn record(
    env: &mut VecEnv,
    recorder: &Recorder,
    seeds: &[u64],
    steps: usize,
    actions: &[f32],
) -> Result<Vec<RecordedStep>> {
    env.reset(Some(seeds))?;
    let mut recorded = Vec::new();
    for _ in 0..steps {
        env.step(actions)?;
        recorded.push(RecordedStep {
            batch: recorder.batches.lock().expect("not poisoned").pop(),
            actions: env.outputs().actions.clone(),
        });
    }
    Ok(recorded)
}

/// Runs `steps` VecEnv steps from a seeded reset; returns the seconds they took and the
/// seconds the policies took within them.
fn timed_steps(
    env: &mut VecEnv,
    seeds: &[u64],
    steps: usize,
    actions: &[f32],
) -> Result<(f64, f64)> {
    env.reset(Some(seeds))?;
    let (start, policies) = (Instant::now(), env.policy_time());
    for _ in 0..steps {
        env.step(actions)?;
    }
    let policies = (env.policy_time() - policies).as_secs_f64();
    Ok((start.elapsed().as_secs_f64(), policies))
}

/// The same forward passes as Socium's, by ort alone: one session like the policy's (one
/// intra-op thread, every graph optimisation), a recorded batch in, its output copied out.
fn ort_pass(session: &mut Session, batch: &Recorded, head: &mut Vec<f32>) -> Result<()> {
    let rows = batch.rows;
    let mut inputs = Vec::new();
    for (name, values) in [
        ("obs", &batch.obs),
        ("action_mask", &batch.mask),
        ("state", &batch.state),
    ] {
        if !values.is_empty() {
            let tensor = TensorRef::from_array_view(([rows, values.len() / rows], &values[..]))?;
            inputs.push((name, tensor));
        }
    }
    let outputs = session.run(inputs)?;
    let (_, data) = outputs[0].try_extract_tensor::<f32>()?;
    head.clear();
    head.extend_from_slice(data);
    Ok(())
}

/// ort alone on every recorded batch, back to back: the floor with every cache warm.
fn ort_back_to_back(session: &mut Session, recorded: &[RecordedStep]) -> Result<f64> {
    let mut head = Vec::new();
    let start = Instant::now();
    for batch in recorded.iter().filter_map(|r| r.batch.as_ref()) {
        ort_pass(session, batch, &mut head)?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// ort alone on every recorded batch at the step it was given, between the same game steps
/// (`env`'s agents all external, replaying the recorded actions): the caches as a hand-written
/// loop around ort would find them. Only the ort calls are timed.
fn ort_between_steps(
    session: &mut Session,
    env: &mut VecEnv,
    seeds: &[u64],
    recorded: &[RecordedStep],
) -> Result<f64> {
    env.reset(Some(seeds))?;
    let (mut head, mut seconds) = (Vec::new(), 0.0);
    for step in recorded {
        if let Some(batch) = &step.batch {
            let start = Instant::now();
            ort_pass(session, batch, &mut head)?;
            seconds += start.elapsed().as_secs_f64();
        }
        env.step(&step.actions)?;
    }
    Ok(seconds)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Plays every episode of `s` on `sim`, counting steps and decisions.
fn play_all(s: &Scenario, sim: &mut socium_core::Sim) -> Result<Counts> {
    let mut counts = Counts::default();
    socium_scenario::play(
        s,
        sim,
        |_| Ok(()),
        |_| {},
        |_| Ok(()),
        |episode, record| {
            counts.steps += record.steps;
            counts.decisions += record.utterances;
            if record.played == episode {
                counts.played_steps += record.steps;
                counts.played_decisions += record.utterances;
            }
            Ok(())
        },
    )?;
    Ok(counts)
}

/// A file of the repository this binary was built from: a default input that does not depend on
/// the folder the command runs in.
fn in_repository(path: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2);
    root.expect("crates/socium-cli is two levels down")
        .join(path)
}

fn load(file: &Path, set: &[Override]) -> Result<Scenario> {
    let mut s = Scenario::load_with_overrides(file, set)?;
    s.config.transcript = false;
    s.config.records = s.reads_records();
    anyhow::ensure!(
        s.config
            .agents
            .iter()
            .all(|a| a.controller != socium_core::Controller::External),
        "{}: benchmarks need no external agents: every agent scripted, random or a policy",
        file.display()
    );
    Ok(s)
}

pub fn run(bench: Bench) -> Result<()> {
    match bench {
        Bench::Vecenv {
            scenario,
            set,
            envs,
            steps,
            threads,
            repeats,
            json,
            records,
        } => {
            let (steps, repeats) = (steps.get(), repeats.get());
            let mut s = load(&scenario, &set)?;
            s.config.records |= records;
            let threads = match threads.is_empty() {
                true => vec![rayon::current_num_threads()],
                false => threads,
            };
            if let Some(bad) = envs.iter().chain(&threads).find(|&&n| n == 0) {
                anyhow::bail!("--envs and --threads take counts of at least 1, not {bad}");
            }
            let largest = envs.iter().copied().max().unwrap_or(1);
            let mut settings = Vec::new();
            for &t in &threads {
                let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(t).build()?);
                for &e in &envs {
                    let steps = (steps * largest).div_ceil(e).max(1);
                    settings.push(VecEnvSetting::new(&s, pool.clone(), e, steps)?);
                }
            }
            // Ratios to the first env count with as many threads, per round.
            let mut ratios = vec![Vec::new(); settings.len()];
            for _ in 0..repeats {
                let rates =
                    (settings.iter_mut().map(VecEnvSetting::time)).collect::<Result<Vec<f64>>>()?;
                for (i, ratio) in ratios.iter_mut().enumerate() {
                    ratio.push(rates[i] / rates[i - i % envs.len()]);
                }
            }
            let agents = s.config.agents.len();
            let reports = settings.into_iter().zip(&ratios).map(|(setting, ratio)| {
                let m = median(&setting.seconds);
                let threads = setting.pool.current_num_threads();
                VecEnvReport {
                    scenario: s.name.clone(),
                    game: s.game.name(),
                    envs: setting.envs,
                    agents,
                    threads,
                    steps: setting.steps,
                    records: s.config.records,
                    decisions_per_repeat: setting.decisions,
                    median_seconds: m,
                    decisions_per_second: median(&setting.rates),
                    decisions_per_second_per_core: median(&setting.rates) / threads as f64,
                    agent_steps_per_second: (setting.envs * agents * setting.steps) as f64 / m,
                    vs_first_envs: median(ratio),
                    seconds: setting.seconds,
                }
            });
            if json {
                for report in reports {
                    say!("{}", serde_json::to_string(&report)?);
                }
            } else {
                say!(
                    "{} ({}): {agents} agents an env, {} rounds (medians){}\n\
                     | threads | envs | steps | median s | decisions/s | per core | agent-steps/s | vs {} envs |\n\
                     | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                    s.name,
                    s.game.name(),
                    repeats,
                    if s.config.records {
                        ", records kept"
                    } else {
                        ""
                    },
                    envs[0],
                );
                for r in reports {
                    say!(
                        "| {} | {} | {} | {:.4} | {:.3e} | {:.3e} | {:.3e} | {:.2} |",
                        r.threads,
                        r.envs,
                        r.steps,
                        r.median_seconds,
                        r.decisions_per_second,
                        r.decisions_per_second_per_core,
                        r.agent_steps_per_second,
                        r.vs_first_envs,
                    );
                }
            }
        }
        Bench::Policy {
            scenario,
            model,
            envs,
            steps,
            threads,
            repeats,
            json,
        } => {
            let (envs, steps, repeats) = (envs.get(), steps.get(), repeats.get());
            let scenario = scenario.unwrap_or_else(|| in_repository("benches/donor_policy.toml"));
            let model =
                model.unwrap_or_else(|| in_repository("assets/policies/donor_bench_mlp.onnx"));
            let s = load(&scenario, &[])?;
            let spaces = s.sim()?.spaces().clone();
            let policy = Arc::new(OnnxPolicy::load(&model, &spaces, None)?);
            let threads = threads.unwrap_or_else(rayon::current_num_threads);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let seeds = VecEnv::seeds(s.config.seed, envs);
            let agents = s.config.agents.len();
            let actions = vec![0.0; envs * agents * spaces.action.flat_dim()];
            // The batches, recorded on a pass of their own: runs are deterministic, so the timed
            // passes see exactly these.
            let recorder = Arc::new(Recorder {
                inner: policy.clone(),
                batches: Mutex::new(Vec::new()),
            });
            let mut recording = VecEnv::new(
                &*s.game,
                &all_on(&s.config, argmax(recorder.clone())),
                &seeds,
            )?;
            let recorded =
                pool.install(|| record(&mut recording, &recorder, &seeds, steps, &actions))?;
            drop(recording);
            let batches: Vec<_> = recorded.iter().filter_map(|r| r.batch.as_ref()).collect();
            let mut env =
                VecEnv::new(&*s.game, &all_on(&s.config, argmax(policy.clone())), &seeds)?;
            let mut replay =
                VecEnv::new(&*s.game, &all_on(&s.config, Controller::External), &seeds)?;
            let runtime = socium_policy::runtime::environment(None)?;
            let mut session = (|| -> ort::Result<Session> {
                Session::builder(&runtime)?
                    .with_intra_threads(1)?
                    .with_optimization_level(GraphOptimizationLevel::All)?
                    .commit_from_file(&model)
            })()?;
            let (mut step_seconds, mut controller_seconds) = (Vec::new(), Vec::new());
            let (mut forward_seconds, mut ort_seconds) = (Vec::new(), Vec::new());
            let mut between_seconds = Vec::new();
            // One warm-up of each, then alternate so that drift hits both sides alike.
            for round in 0..=repeats {
                let forward = policy.forward_time();
                let (step, controller) =
                    pool.install(|| timed_steps(&mut env, &seeds, steps, &actions))?;
                let forward = (policy.forward_time() - forward).as_secs_f64();
                let floor = ort_back_to_back(&mut session, &recorded)?;
                let between = pool
                    .install(|| ort_between_steps(&mut session, &mut replay, &seeds, &recorded))?;
                if round > 0 {
                    step_seconds.push(step);
                    controller_seconds.push(controller);
                    forward_seconds.push(forward);
                    ort_seconds.push(floor);
                    between_seconds.push(between);
                }
            }
            let (ms, mc) = (median(&step_seconds), median(&controller_seconds));
            let (mf, mo) = (median(&forward_seconds), median(&ort_seconds));
            let mb = median(&between_seconds);
            let report = PolicyReport {
                scenario: s.name.clone(),
                model: model.display().to_string(),
                envs,
                agents,
                threads,
                steps,
                forward_passes: batches.len(),
                rows: batches.iter().map(|b| b.rows).sum(),
                env_steps_per_second: (envs * steps) as f64 / ms,
                controller_overhead: mc / mo - 1.0,
                controller_overhead_between_steps: mc / mb - 1.0,
                step_overhead: ms / mo - 1.0,
                step_median_seconds: ms,
                controller_median_seconds: mc,
                forward_median_seconds: mf,
                ort_median_seconds: mo,
                ort_between_steps_median_seconds: mb,
                step_seconds,
                controller_seconds,
                forward_seconds,
                ort_seconds,
                ort_between_steps_seconds: between_seconds,
            };
            if json {
                say!("{}", serde_json::to_string(&report)?);
            } else {
                say!(
                    "{} with every agent on {}: {} envs × {} agents, {} threads, {} steps \
                     ({} forward passes, {} rows); medians:\n  \
                     steps:                         {:.4} s = {:.3e} env-steps/s\n  \
                     policy controller within them: {:.4} s (gather, forward, select)\n  \
                     forward passes within that:    {:.4} s\n  \
                     ort alone on the same batches: {:.4} s back to back, {:.4} s between the \
                     same game steps\n  \
                     controller over ort alone: {:+.1}% back to back, {:+.1}% between steps; \
                     whole step over ort alone back to back: {:+.1}%",
                    report.scenario,
                    report.model,
                    envs,
                    agents,
                    threads,
                    steps,
                    report.forward_passes,
                    report.rows,
                    ms,
                    report.env_steps_per_second,
                    mc,
                    mf,
                    mo,
                    mb,
                    report.controller_overhead * 100.0,
                    report.controller_overhead_between_steps * 100.0,
                    report.step_overhead * 100.0
                );
            }
        }
        Bench::Evolve {
            scenario,
            generations,
            repeats,
            play_every_generation,
            json,
        } => {
            let repeats = repeats.get();
            let scenario = scenario.unwrap_or_else(|| in_repository("benches/moran_tft_alld.toml"));
            let mut s = load(&scenario, &[])?;
            if let Some(g) = generations.filter(|&g| g >= 1) {
                let flag = ("--generations", "generation");
                crate::changes_within(&s, flag, g.into(), When::generation)?;
            }
            let spec = s
                .evolution
                .as_mut()
                .with_context(|| format!("{}: no [evolution] table", scenario.display()))?;
            if let Some(g) = generations {
                spec.generations = socium_core::bounded::Count::new(g)
                    .context("--generations: expected at least 1")?;
            }
            spec.memoize &= !play_every_generation;
            let memoize = spec.memoize;
            let (generations, episodes) = (spec.generations.get(), spec.episodes.get());
            let mut seconds = Vec::new();
            // Run r of the batch for repeat r: each a fresh run, as a batch of runs would be.
            for r in 0..=repeats {
                let start = Instant::now();
                socium_evo::run_scenario(&s, r as u64, s.config.seed, None, &|| ())?;
                if r > 0 {
                    seconds.push(start.elapsed().as_secs_f64());
                }
            }
            let m = median(&seconds);
            let report = EvolveReport {
                scenario: s.name.clone(),
                game: s.game.name(),
                agents: s.config.agents.len(),
                episodes_per_generation: episodes,
                generations,
                median_seconds: m,
                generations_per_second: f64::from(generations) / m,
                memoize,
                seconds,
            };
            if json {
                say!("{}", serde_json::to_string(&report)?);
            } else {
                say!(
                    "{} ({}): {} agents, {} a generation, {} generations{}: median {:.4} s per \
                     run = {:.1} generations/s",
                    report.scenario,
                    report.game,
                    report.agents,
                    crate::counted(episodes, "episode"),
                    generations,
                    if memoize { "" } else { ", every one played" },
                    m,
                    report.generations_per_second
                );
            }
        }
        Bench::Setup {
            scenario,
            set,
            json,
        } => {
            let start = Instant::now();
            let s = load(&scenario, &set)?;
            let loaded = start.elapsed();
            let mut sim = s.sim()?;
            let built = start.elapsed();
            let counts = play_all(&s, &mut sim)?;
            let report = SetupReport {
                agents: s.config.agents.len(),
                steps: counts.steps,
                load_seconds: loaded.as_secs_f64(),
                build_seconds: (built - loaded).as_secs_f64(),
                play_seconds: (start.elapsed() - built).as_secs_f64(),
            };
            if json {
                say!("{}", serde_json::to_string(&report)?);
            } else {
                say!(
                    "{} ({} agents): set-up {:.4} s (reading {:.4} s, building the Sim {:.4} s), \
                     then {} steps in {:.4} s",
                    s.name,
                    report.agents,
                    report.load_seconds + report.build_seconds,
                    report.load_seconds,
                    report.build_seconds,
                    report.steps,
                    report.play_seconds
                );
            }
        }
        Bench::Scenario {
            scenario,
            set,
            repeats,
            json,
        } => {
            let repeats = repeats.get();
            let s = load(&scenario, &set)?;
            let mut sim = s.sim()?;
            let mut play = || play_all(&s, &mut sim);
            play()?;
            let mut seconds = Vec::new();
            let mut counts = Counts::default();
            for _ in 0..repeats {
                let start = Instant::now();
                counts = play()?;
                seconds.push(start.elapsed().as_secs_f64());
            }
            let m = median(&seconds);
            let report = ScenarioReport {
                scenario: s.name.clone(),
                game: s.game.name(),
                episodes: s.episodes,
                counts,
                median_seconds: m,
                runs_per_second: 1.0 / m,
                played_decisions_per_second: counts.played_decisions as f64 / m,
                seconds,
            };
            if json {
                say!("{}", serde_json::to_string(&report)?);
            } else {
                say!(
                    "{} ({}): {} episodes, {} steps, {} decisions ({} steps, {} decisions \
                     played, the rest repeated): median {:.5} s per run ({:.1} runs/s, \
                     {:.3e} decisions played/s)",
                    report.scenario,
                    report.game,
                    report.episodes,
                    counts.steps,
                    counts.decisions,
                    counts.played_steps,
                    counts.played_decisions,
                    m,
                    report.runs_per_second,
                    report.played_decisions_per_second
                );
            }
        }
    }
    Ok(())
}
