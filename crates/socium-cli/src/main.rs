//! `socium`: run, validate, evolve, replay, view and list scenarios, and benchmark the engine.

/// `println!` that ends the program quietly when stdout's reader has gone ([`emit`]).
macro_rules! say {
    () => {
        $crate::emit(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod bench;
mod evolve;
mod plot;
mod replay;
mod stop;
mod view;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use socium_scenario::{Override, RunSummary, Scenario, When};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

/// mimalloc keeps each Sim's many small allocations close together, which matters once a VecEnv
/// holds more Sims than the caches do (see docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Socium: deterministic multi-agent social simulation.
#[derive(Parser)]
#[command(name = "socium", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The ONNX Runtime library for `policy` agents (default: ORT_DYLIB_PATH, then the project's
    /// .venv, where scripts/python-env installs onnxruntime==1.31.1). Given before the command
    /// (`socium --onnxruntime LIBRARY run ...`): not global, so that the help of `replay`,
    /// `view` and `list`, which load no policy, does not offer it.
    #[arg(long, value_name = "LIBRARY")]
    onnxruntime: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Play a scenario: print a summary table and write transcript.jsonl, metrics.csv and
    /// summary.json into the output folder.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Seed of the first episode (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Episodes to play (default: the scenario's).
        #[arg(long)]
        episodes: Option<u64>,
        /// Output folder (default: out/<scenario file stem>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario value, checked like the file (repeatable):
        /// --set game.repeated.noise=0.05 --set agents[0].count=4
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
    },
    /// Check a scenario file and say what it sets up.
    Validate {
        /// The scenario file.
        scenario: PathBuf,
        /// Override a scenario value, checked like the file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
    },
    /// Evolve the agent groups' strategies as the scenario's [evolution] table says: many runs in
    /// parallel; writes generations.csv and summary.json.
    Evolve {
        /// The scenario file.
        scenario: PathBuf,
        /// Runs (default: the scenario's).
        #[arg(long)]
        runs: Option<u32>,
        /// Generations per run (default: the scenario's).
        #[arg(long)]
        generations: Option<u32>,
        /// Master seed (default: the scenario's); run r is seeded from it and r.
        #[arg(long)]
        seed: Option<u64>,
        /// Threads (default: one per core); the outputs do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Output folder (default: out/<scenario file stem>-evolve).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario value, checked like the file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Override>,
        /// Stop every run once it has played and checkpointed this many generations, writing
        /// no outputs; `--resume` continues it (for batch jobs with a time limit).
        #[arg(long, value_name = "GENERATION")]
        pause_at: Option<u32>,
        /// Continue the runs checkpointed in the output folder (after a kill or a pause): the
        /// outputs equal an uninterrupted run's.
        #[arg(long)]
        resume: bool,
    },
    /// Print one episode of a run's transcript step by step: who said what, and the rewards each
    /// act caused.
    Replay {
        /// The output folder of `socium run` (with transcript.jsonl).
        dir: PathBuf,
        /// The episode (0-based).
        #[arg(long, default_value_t = 0)]
        episode: u64,
    },
    /// Write one self-contained HTML page of a run's outputs (no server, no network): the
    /// social graph, the dialogue with each utterance's rewards, a step scrubber, beliefs, and
    /// the per-episode metrics (or, for `socium evolve` outputs, the generations).
    View {
        /// The output folder of `socium run` or `socium evolve`.
        dir: PathBuf,
        /// Only this episode (0-based; default: every episode, up to --max-lines).
        #[arg(long)]
        episode: Option<u64>,
        /// The page to write (default: DIR/view.html).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// At most this many transcript lines go into the page; the command says what it left
        /// out.
        #[arg(long, default_value_t = 200_000, value_name = "N")]
        max_lines: u64,
    },
    /// List games, strategies, reward dimensions, metrics, graph generators and transforms.
    List,
    /// Measure the engine's speed (see docs/BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        bench: bench::Bench,
    },
}

/// Writes to stdout; where the reader has gone (`socium list | head`), ends the program quietly
/// with success, as command-line tools do, where `print!` would panic.
fn emit(text: std::fmt::Arguments) {
    use std::io::Write as _;
    match std::io::stdout().write_fmt(text) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => panic!("failed printing to stdout: {e}"),
        Ok(()) => {}
    }
}

/// `n` and its noun, singular for one: "1 episode", "2 episodes".
fn counted(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// Refuses a run length from the command line (`flag`, `length` episodes or generations: `unit`)
/// that a `[[timeline]]` change lies past (`at` its episode or generation), as the file's own
/// length would be refused: the change would never apply.
fn changes_within(
    scenario: &Scenario,
    (flag, unit): (&str, &str),
    length: u64,
    at: fn(When) -> Option<u64>,
) -> Result<()> {
    let past = (scenario.timeline.iter())
        .find_map(|c| at(c.when).filter(|&t| t >= length).map(|t| (c, t)));
    if let Some((change, from)) = past {
        let (line, column) = change.line_column;
        anyhow::bail!(
            "{flag} {length}: the [[timeline]] change at {}:{line}:{column}, from {unit} {from}, \
             is past the run ({unit}s 0 to {})",
            scenario.file.display(),
            length - 1
        );
    }
    Ok(())
}

/// The error for an episode a transcript (`path`, holding episodes `0..episodes`) lacks.
fn no_episode(path: &Path, episode: u64, episodes: u64) -> anyhow::Error {
    let held = match episodes {
        0 => "the transcript holds no episode".to_owned(),
        n => format!(
            "the transcript has {}, 0 to {}",
            counted(n, "episode"),
            n - 1
        ),
    };
    anyhow::anyhow!("{}: no episode {episode} ({held})", path.display())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    stop::on_signals_remove_partial_files();
    if let Some(library) = &cli.onnxruntime
        && let Err(e) = socium_policy::runtime::environment(Some(library))
    {
        eprintln!("error: --onnxruntime: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Run {
            scenario,
            seed,
            episodes,
            out,
            set,
        } => run(&scenario, &set, seed, episodes, out),
        Command::Validate { scenario, set } => validate(&scenario, &set),
        Command::Evolve {
            scenario,
            runs,
            generations,
            seed,
            threads,
            out,
            set,
            pause_at,
            resume,
        } => {
            let stem = scenario
                .file_stem()
                .map_or("run".into(), |s| s.to_string_lossy().into_owned());
            let out = out.unwrap_or_else(|| Path::new("out").join(format!("{stem}-evolve")));
            evolve::evolve(evolve::Args {
                file: &scenario,
                set: &set,
                runs,
                generations,
                seed,
                threads,
                out: &out,
                pause_at,
                resume,
            })
        }
        Command::Replay { dir, episode } => {
            replay::render(&dir, episode).map(|text| emit(format_args!("{text}")))
        }
        Command::View {
            dir,
            episode,
            out,
            max_lines,
        } => view::view(&view::Args {
            dir: &dir,
            episode,
            out,
            max_lines,
        })
        .map(|w| {
            let dialogue = match w.shown.episodes {
                0 => "no transcript".to_owned(),
                n => format!(
                    "{} with {}",
                    counted(n as u64, "episode"),
                    counted(w.shown.lines, "transcript line")
                ),
            };
            say!(
                "wrote {} ({} of {}; {dialogue})",
                w.path.display(),
                counted(w.shown.rows as u64, "row"),
                w.shown.table
            );
            if let Some(left_out) = w.shown.left_out {
                say!("left out {left_out}");
            }
        }),
        Command::List => {
            list();
            Ok(())
        }
        Command::Bench { bench } => bench::run(bench),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    file: &Path,
    set: &[Override],
    seed: Option<u64>,
    episodes: Option<u64>,
    out: Option<PathBuf>,
) -> Result<()> {
    let mut scenario = Scenario::load_with_overrides(file, set)?;
    if let Some(seed) = seed {
        scenario.config.seed = seed;
    }
    if let Some(episodes) = episodes {
        anyhow::ensure!(episodes >= 1, "--episodes: expected at least 1");
        changes_within(
            &scenario,
            ("--episodes", "episode"),
            episodes,
            When::episode,
        )?;
        scenario.episodes = episodes;
    }
    let stem = file
        .file_stem()
        .map_or("run".into(), |s| s.to_string_lossy().into_owned());
    let out = out.unwrap_or_else(|| Path::new("out").join(stem));

    // The bar appears only once a run has lasted a second.
    let bar = ProgressBar::with_draw_target(Some(scenario.episodes), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} episodes  {elapsed} elapsed, {eta} left",
        )
        .expect("valid template"),
    );
    let start = Instant::now();
    let summary = socium_scenario::run(&scenario, &out, |done| {
        if bar.is_hidden() && start.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.set_position(done);
    })
    .with_context(|| format!("running {}", file.display()))?;
    bar.finish_and_clear();
    print_summary(&summary);
    use socium_scenario::{ATTRIBUTION, GRAPH, METRICS, PREFERENCES, SUMMARY, TRANSCRIPT};
    let outputs = [
        (TRANSCRIPT, scenario.config.transcript),
        (METRICS, true),
        (PREFERENCES, scenario.heron.is_some()),
        (ATTRIBUTION, scenario.attribution.is_some()),
        (GRAPH, scenario.graph_output),
        (SUMMARY, true),
    ];
    let files: Vec<&str> = (outputs.iter())
        .filter_map(|(file, written)| written.then_some(*file))
        .collect();
    say!("wrote {} in {}", files.join(", "), out.display());
    Ok(())
}

fn print_summary(s: &RunSummary) {
    say!(
        "{} — game {}, seed {}, {}, {}",
        s.scenario,
        s.game,
        s.seed,
        counted(s.episodes, "episode"),
        counted(s.steps, "step")
    );
    let dims: Vec<&String> = s
        .groups
        .first()
        .map(|g| g.mean_rewards.keys().collect())
        .unwrap_or_default();
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec![
        "group".to_owned(),
        "controller".into(),
        "agents".into(),
        "return".into(),
    ];
    header.extend(dims.iter().map(|d| format!("{d} (mean)")));
    // The transformed means, for the dimensions a transform changed.
    let transformed: Vec<&String> = (dims.iter().copied())
        .filter(|d| (s.groups.iter()).any(|g| g.mean_components[*d] != g.mean_rewards[*d]))
        .collect();
    header.extend(transformed.iter().map(|d| format!("{d} (transformed)")));
    table.set_header(header);
    for g in &s.groups {
        let mut row = vec![
            g.label.clone(),
            g.controller.clone(),
            g.agents.to_string(),
            fmt(g.mean_return),
        ];
        row.extend(dims.iter().map(|d| fmt(g.mean_rewards[*d])));
        row.extend(transformed.iter().map(|d| fmt(g.mean_components[*d])));
        table.add_row(row);
    }
    say!("{table}");
    say!("per agent and episode; metrics, mean over episodes:");
    for (name, value) in &s.metrics {
        say!("  {name:<18} {}", fmt(*value));
    }
    if let Some(a) = &s.attribution {
        say!(
            "attribution `{}` over {} utterances, against the exact values:",
            a.method,
            a.utterances
        );
        for (name, agreement) in &a.dimensions {
            let rho = agreement.spearman.map_or("—".into(), fmt);
            say!(
                "  {name:<18} Spearman {rho}, mean absolute error {}",
                agreement.mae.map_or("—".into(), fmt)
            );
        }
    }
    for g in s.groups.iter().filter(|g| g.faults > 0) {
        say!(
            "{}: {} controller faults, each played as the default act (see `fault` lines in \
             transcript.jsonl)",
            g.label,
            g.faults
        );
    }
}

fn fmt(x: f64) -> String {
    if x != 0.0 && (x.abs() >= 1e6 || x.abs() < 1e-3) {
        format!("{x:.4e}")
    } else {
        format!("{x:.4}")
    }
}

fn validate(file: &Path, set: &[Override]) -> Result<()> {
    let s = Scenario::load_with_overrides(file, set)?;
    let count = |f: fn(&socium_core::Controller) -> bool| {
        s.config.agents.iter().filter(|a| f(&a.controller)).count()
    };
    let externals = count(|c| *c == socium_core::Controller::External);
    let policies = count(|c| matches!(c, socium_core::Controller::Policy(_)));
    say!(
        "{}: ok — \"{}\": game {}, {} ({} external, {} on ONNX or language models), {}, \
         seed {}",
        file.display(),
        s.name,
        s.game.name(),
        counted(s.config.agents.len() as u64, "agent"),
        externals,
        policies,
        counted(s.episodes, "episode"),
        s.config.seed
    );
    Ok(())
}

fn list() {
    for game in socium_scenario::games() {
        say!(
            "game {}  (action space with 8 agents: {})",
            game.name(),
            game.action_space(8)
        );
        say!("  strategies:");
        for s in game.strategies() {
            say!("    {:<26} {}", s.name, s.summary);
            for p in s.params {
                say!(
                    "      {:<24} {} (default {}, {})",
                    p.name,
                    p.summary,
                    p.default,
                    p.expected()
                );
            }
        }
        say!("  reward dimensions:");
        for d in game.reward_dimensions() {
            say!(
                "    {:<26} {} (default weight {})",
                d.name,
                d.summary,
                d.default_weight
            );
        }
        say!("  metrics:");
        for m in game.metrics() {
            say!("    {:<26} {}", m.name, m.summary);
        }
        if !game.potentials().is_empty() {
            say!("  potentials ([shaping.<name>]):");
            for p in game.potentials() {
                say!("    {:<26} {}", p.name, p.summary);
            }
        }
        say!();
    }
    say!(
        "controllers: a strategy above, \"random\" (uniform legal actions), \"external\" (a \
         trainer), {{ llm = {{ base_url, model, ... }} }} (a language model)"
    );
    say!("graph generators:");
    for (name, summary) in socium_core::GENERATORS {
        say!("    {name:<26} {summary}");
    }
    say!("reward transforms (docs/rewards.md):");
    for (name, summary) in [
        ("identity", "the raw value"),
        (
            "min_max { window }",
            "(x - min) / (max - min) over the window",
        ),
        ("sigmoid { scale }", "2 / (1 + e^(-x / scale)) - 1"),
        (
            "log_sigmoid { reference }",
            "log sigma(x - r_ref) (Wang et al. 2024)",
        ),
        ("par { reference }", "sigma(x - r_ref) (Fu et al. 2025)"),
        ("zscore { window }", "(x - mean) / sd over the window"),
        ("clip { low, high }", "x clamped to [low, high]"),
        ("rank", "rank among the agents acting this step, in [0, 1]"),
    ] {
        say!("    {name:<26} {summary}");
    }
    say!(
        "  references: {{ constant = c }}, {{ mean = {{ window }} }}, {{ percentile = {{ p, window }} }}, \
         {{ group = \"label\" }}"
    );
    say!("combinations ([scalar] combine): \"sum\", \"min\", \"log_sum\"");
    say!(
        "social preferences ([[agents]] social): {{ svo = {{ angle }} }}, {{ svo_penalty = {{ target, \
         weight }} }}, \"utilitarian\", \"nash\", \"max_min\""
    );
    say!(
        "hierarchical preferences ([scalar.heron] order, margins): HERON labels between the \
         agents of each episode (preferences.jsonl)"
    );
    say!(
        "potential-based shaping ([shaping.<potential>] gamma, weight): each game's potentials above"
    );
    say!(
        "graph dynamics ([ties]): weaken, strengthen, cut_below, closure, homophily, \
         similar_within, reciprocity, budget; measured by [output] graph (graph.edges and degree, clustering, \
         components, label assortativity)"
    );
    say!(
        "values that spread ([values] confidence, rate): bounded confidence on every act at a \
         partner, in any game; measured in metrics.csv (value mean, polarisation, clusters, tie \
         distance, assortativity)"
    );
    say!(
        "interventions ([[timeline]]): episode [and step] (socium run) or generation (socium \
         evolve), set = {{ \"key\" = value, ... }} (keys as --set; at a step: game settings and \
         groups' strategy and params)"
    );
    say!(
        "attribution ([attribution] method, dimensions): \"uniform\", \"exact\", {{ onnx = {{ model }} }}, \
         {{ llm = {{ base_url, model, ... }} }} (attribution.jsonl, measured against the exact values)"
    );
}
