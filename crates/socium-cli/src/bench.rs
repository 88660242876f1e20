//! `socium bench`: the engine's own speed measurements (figures in docs/BENCHMARKS.md).

use anyhow::{Context, Result};
use clap::Subcommand;
use serde::Serialize;
use socium_core::VecEnv;
use socium_scenario::Scenario;
use std::{
    path::{Path, PathBuf},
    time::Instant,
};

#[derive(Subcommand)]
pub enum Bench {
    /// Scripted decisions per second through a VecEnv of a scenario's game.
    Vecenv {
        /// The scenario (every agent scripted or random).
        scenario: PathBuf,
        /// Envs in the VecEnv.
        #[arg(long, default_value_t = 1024)]
        envs: usize,
        /// Steps timed per repeat.
        #[arg(long, default_value_t = 200)]
        steps: usize,
        /// Rayon threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Timed repeats (the median is reported).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every episode of a scenario (a whole tournament, say) on one thread, timed.
    Scenario {
        /// The scenario (every agent scripted or random).
        scenario: PathBuf,
        /// Timed repeats after one warm-up (the median is reported).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct VecEnvReport {
    scenario: String,
    game: &'static str,
    envs: usize,
    agents: usize,
    threads: usize,
    steps: usize,
    decisions_per_repeat: u64,
    seconds: Vec<f64>,
    median_seconds: f64,
    decisions_per_second: f64,
    decisions_per_second_per_core: f64,
    agent_steps_per_second: f64,
}

#[derive(Serialize)]
struct ScenarioReport {
    scenario: String,
    game: &'static str,
    episodes: u64,
    steps: u64,
    decisions: u64,
    seconds: Vec<f64>,
    median_seconds: f64,
    runs_per_second: f64,
    decisions_per_second: f64,
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn load(file: &Path) -> Result<Scenario> {
    let mut s = Scenario::load(file)?;
    s.config.transcript = false;
    anyhow::ensure!(
        s.config
            .agents
            .iter()
            .all(|a| a.controller != socium_core::Controller::External),
        "{}: benchmarks need every agent scripted or random",
        file.display()
    );
    Ok(s)
}

pub fn run(bench: Bench) -> Result<()> {
    match bench {
        Bench::Vecenv {
            scenario,
            envs,
            steps,
            threads,
            repeats,
            json,
        } => {
            let s = load(&scenario)?;
            let threads = threads.unwrap_or_else(rayon::current_num_threads);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let seeds = VecEnv::seeds(s.config.seed, envs);
            let mut env =
                VecEnv::new(&*s.game, &s.config, &seeds).context("building the VecEnv")?;
            let mut buf = env.buffers();
            let agents = s.config.agents.len();
            let actions = vec![0.0; envs * agents * s.game.action_space().flat_dim()];
            let mut seconds = Vec::new();
            let mut decisions = 0;
            pool.install(|| -> Result<()> {
                env.reset(Some(&seeds), buf.outputs())?;
                for _ in 0..steps.min(50) {
                    env.step(&actions, buf.outputs())?;
                }
                for _ in 0..repeats.max(1) {
                    decisions = 0u64;
                    let start = Instant::now();
                    for _ in 0..steps {
                        decisions += buf.acting.iter().filter(|&&a| a).count() as u64;
                        env.step(&actions, buf.outputs())?;
                    }
                    seconds.push(start.elapsed().as_secs_f64());
                }
                Ok(())
            })?;
            let m = median(&seconds);
            let report = VecEnvReport {
                scenario: s.name.clone(),
                game: s.game.name(),
                envs,
                agents,
                threads,
                steps,
                decisions_per_repeat: decisions,
                median_seconds: m,
                decisions_per_second: decisions as f64 / m,
                decisions_per_second_per_core: decisions as f64 / m / threads as f64,
                agent_steps_per_second: (envs * agents * steps) as f64 / m,
                seconds,
            };
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{} ({}): {} envs × {} agents, {} threads, {} steps: median {:.4} s\n  \
                     {:.3e} scripted decisions/s ({:.3e} per core), {:.3e} agent-steps/s",
                    report.scenario,
                    report.game,
                    envs,
                    agents,
                    threads,
                    steps,
                    m,
                    report.decisions_per_second,
                    report.decisions_per_second_per_core,
                    report.agent_steps_per_second
                );
            }
        }
        Bench::Scenario {
            scenario,
            repeats,
            json,
        } => {
            let s = load(&scenario)?;
            let mut sim = s.sim()?;
            let actions = vec![0.0; s.config.agents.len() * s.game.action_space().flat_dim()];
            let mut play = || -> Result<(u64, u64)> {
                let (mut steps, mut decisions) = (0, 0);
                for episode in 0..s.episodes {
                    sim.reset(if episode == 0 {
                        Some(s.config.seed)
                    } else {
                        None
                    });
                    while !sim.is_done() {
                        sim.step(&actions)?;
                        steps += 1;
                        decisions += sim.utterances().len() as u64;
                    }
                }
                Ok((steps, decisions))
            };
            play()?;
            let mut seconds = Vec::new();
            let mut counts = (0, 0);
            for _ in 0..repeats.max(1) {
                let start = Instant::now();
                counts = play()?;
                seconds.push(start.elapsed().as_secs_f64());
            }
            let m = median(&seconds);
            let report = ScenarioReport {
                scenario: s.name.clone(),
                game: s.game.name(),
                episodes: s.episodes,
                steps: counts.0,
                decisions: counts.1,
                median_seconds: m,
                runs_per_second: 1.0 / m,
                decisions_per_second: counts.1 as f64 / m,
                seconds,
            };
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{} ({}): {} episodes, {} steps, {} decisions: median {:.5} s per run \
                     ({:.1} runs/s, {:.3e} decisions/s)",
                    report.scenario,
                    report.game,
                    report.episodes,
                    report.steps,
                    report.decisions,
                    m,
                    report.runs_per_second,
                    report.decisions_per_second
                );
            }
        }
    }
    Ok(())
}
