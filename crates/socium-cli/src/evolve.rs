//! `socium evolve`: many runs of a scenario's `[evolution]` in parallel, tables and output files.

use crate::plot::{self, Band};
use anyhow::{Context, Result};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use socium_evo::{EvolveError, RunCheckpoint, ScenarioRun, run_scenario};
use socium_scenario::{Override, Scenario, When};
use std::{io::Write as _, path::Path};

/// What `socium evolve` was asked for.
pub struct Args<'a> {
    pub file: &'a Path,
    pub set: &'a [Override],
    pub runs: Option<u32>,
    pub generations: Option<u32>,
    pub seed: Option<u64>,
    pub threads: Option<usize>,
    pub out: &'a Path,
    pub pause_at: Option<u32>,
    pub resume: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    scenario: &'a str,
    game: &'a str,
    seed: u64,
    runs: usize,
    generations: usize,
    /// Per type: its label, initial frequency, mean final frequency over runs, and the runs in
    /// which it ended the most frequent.
    types: Vec<TypeSummary<'a>>,
}

#[derive(Serialize)]
struct TypeSummary<'a> {
    label: &'a str,
    initial_frequency: f64,
    final_frequency: f64,
    runs_most_frequent: usize,
}

pub fn evolve(a: Args<'_>) -> Result<()> {
    let mut scenario = Scenario::load_with_overrides(a.file, a.set)?;
    if let Some(g) = a.generations.filter(|&g| g >= 1) {
        let flag = ("--generations", "generation");
        crate::changes_within(&scenario, flag, g.into(), When::generation)?;
    }
    let spec = scenario.evolution.as_mut().with_context(|| {
        format!(
            "{}: no [evolution] table (see docs/scenarios.md)",
            a.file.display()
        )
    })?;
    let count = |v: u32, flag: &str| {
        socium_core::bounded::Count::new(v).with_context(|| format!("{flag}: expected at least 1"))
    };
    if let Some(r) = a.runs {
        spec.runs = count(r, "--runs")?;
    }
    if let Some(g) = a.generations {
        spec.generations = count(g, "--generations")?;
    }
    let pause_at = a.pause_at;
    if let Some(g) = pause_at
        && (g == 0 || g >= spec.generations.get())
    {
        anyhow::bail!(
            "--pause-at {g}: expected a generation in 1..{} (the runs play {} generations)",
            spec.generations.get(),
            spec.generations.get()
        );
    }
    let (runs, seed) = (
        spec.runs.get() as u64,
        a.seed.unwrap_or(scenario.config.seed),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()?;
    // Each run depends on (scenario, run, seed) only; collecting in run order keeps the outputs
    // the same whatever the thread count.
    let generations = spec.generations.get() as u64;

    // Checkpoints after every generation; a new run never overwrites an earlier one's.
    let checkpoints = a.out.join(socium_scenario::CHECKPOINTS);
    let has_checkpoints = socium_scenario::holds_checkpoints(a.out);
    let fingerprint = {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        std::fs::read_to_string(a.file)?.hash(&mut h);
        for o in a.set {
            (&o.key, &o.text).hash(&mut h);
        }
        (seed, generations).hash(&mut h);
        // The ONNX policies and the edge list set the run up as much as the file does. Their
        // contents only: the file names them, and their paths change with the working folder.
        for input in scenario.inputs() {
            let bytes = std::fs::read(input)
                .with_context(|| format!("reading {} again", input.display()))?;
            bytes.hash(&mut h);
        }
        h.finish()
    };
    if has_checkpoints && !a.resume {
        // The same run played to its end says so: resuming it only writes its outputs again.
        let finished = (0..runs).all(|r| {
            let saved = RunCheckpoint::new(&checkpoints, r, fingerprint).generation();
            saved == Some(generations as usize)
        });
        let what = match finished {
            true => {
                "the checkpoints of this run, finished: pass --resume to write its outputs again"
            }
            false => "checkpoints of an earlier run: pass --resume to continue it",
        };
        anyhow::bail!(
            "{} holds {what}, or choose another --out",
            checkpoints.display()
        );
    }
    std::fs::create_dir_all(&checkpoints)
        .with_context(|| format!("creating {}", checkpoints.display()))?;
    let bar = ProgressBar::new(runs * generations);
    // Resumed runs start at their checkpoints, which the bar counts as done: its rate (and so
    // its ETA) counts only generations played now.
    let resumed = (0..runs)
        .filter_map(|r| RunCheckpoint::new(&checkpoints, r, fingerprint).generation())
        .sum::<usize>();
    bar.set_position(resumed as u64);
    bar.reset_eta();
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} generations  {elapsed} elapsed, {eta} left",
        )
        .expect("valid template"),
    );
    let played: Vec<Result<ScenarioRun, EvolveError>> = pool.install(|| {
        (0..runs)
            .into_par_iter()
            .map(|r| {
                let mut checkpoint = RunCheckpoint::new(&checkpoints, r, fingerprint);
                if let Some(g) = pause_at {
                    checkpoint = checkpoint.pausing_at(g as usize);
                }
                run_scenario(&scenario, r, seed, Some(&checkpoint), &|| bar.inc(1))
            })
            .collect()
    });
    bar.finish_and_clear();
    // A run's failure is reported before any pause of the others (a pause is no failure), then
    // the pause once: every run plays to its pause, none stops the others.
    let mut played = played;
    let paused =
        |r: &Result<ScenarioRun, EvolveError>| matches!(r, Err(EvolveError::Paused { .. }));
    if let Some(failed) = played.iter().position(|r| r.is_err() && !paused(r)) {
        return Err(played.swap_remove(failed).expect_err("a failed run").into());
    }
    if let Some(g) = pause_at
        && played.iter().any(paused)
    {
        say!(
            "paused {runs} runs after generation {g}, checkpointed in {}: continue with --resume",
            checkpoints.display()
        );
        return Ok(());
    }
    let results: Vec<ScenarioRun> = played.into_iter().collect::<Result<_, _>>()?;
    let labels = &results[0].labels;
    let n = scenario.config.agents.len() as f64;
    // `Generation::cooperation` is the game's first metric: the donor games' cooperation rate,
    // the opinion game's clusters, Mafia's town wins.
    let metric = (scenario.game.metrics().first()).map_or("first_metric", |m| m.name);

    let mut header = vec!["run".to_owned(), "generation".into()];
    header.extend(labels.iter().map(|l| format!("freq[{l}]")));
    header.extend([
        "mean_payoff".into(),
        metric.into(),
        "mean_reputation".into(),
    ]);
    header.extend(results[0].parameters.iter().cloned());
    // A label holds commas (`reciprocal(generosity=0.1, initial=0.6)`): the writer quotes it.
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(&header)
        .context("writing generations.csv")?;
    let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for (r, run) in results.iter().enumerate() {
        for (g, generation) in run.generations.iter().enumerate() {
            let mut row = vec![r.to_string(), g.to_string()];
            row.extend(
                generation
                    .counts
                    .iter()
                    .map(|&c| (c as f64 / n).to_string()),
            );
            row.push(generation.mean_payoff.to_string());
            row.push(cell(generation.cooperation));
            row.push(cell(generation.reputation));
            row.extend(generation.parameters.iter().map(|&p| cell(p)));
            csv.write_record(&row).context("writing generations.csv")?;
        }
    }
    let csv = csv.into_inner().context("writing generations.csv")?;
    let last = |run: &ScenarioRun| {
        run.generations
            .last()
            .map(|g| g.counts.clone())
            .unwrap_or_default()
    };
    let types: Vec<TypeSummary> = labels
        .iter()
        .enumerate()
        .map(|(t, label)| TypeSummary {
            label,
            initial_frequency: results[0]
                .generations
                .first()
                .map_or(0.0, |g| g.counts[t] as f64 / n),
            final_frequency: results.iter().map(|r| last(r)[t] as f64 / n).sum::<f64>()
                / runs as f64,
            runs_most_frequent: results
                .iter()
                .filter(|r| {
                    let c = last(r);
                    c.iter().enumerate().all(|(u, &x)| u == t || c[t] > x)
                })
                .count(),
        })
        .collect();
    let summary = Summary {
        scenario: &scenario.name,
        game: scenario.game.name(),
        seed,
        runs: results.len(),
        generations: results[0].generations.len(),
        types,
    };

    std::fs::create_dir_all(a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let mut file = socium_scenario::temp_file_in(a.out, "")?;
        file.write_all(bytes)?;
        let path = a.out.join(name);
        socium_scenario::commit(vec![(file, path)], &[])
            .map_err(|(path, e)| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(())
    };
    write(socium_scenario::GENERATIONS, &csv)?;
    write(
        socium_scenario::SUMMARY,
        (serde_json::to_string_pretty(&summary)? + "\n").as_bytes(),
    )?;
    // An earlier run's outputs, and the page made of them, go: the folder holds one run.
    let stale: Vec<_> = (socium_scenario::RUN_FILES.iter())
        .chain([&socium_scenario::PAGE])
        .map(|f| a.out.join(f))
        .collect();
    socium_scenario::commit(Vec::new(), &stale)
        .map_err(|(path, e)| anyhow::anyhow!("{}: {e}", path.display()))?;
    let frequencies: Vec<Band> = labels
        .iter()
        .enumerate()
        .map(|(t, label)| {
            let per_run: Vec<Vec<f64>> = results
                .iter()
                .map(|r| {
                    r.generations
                        .iter()
                        .map(|g| g.counts[t] as f64 / n)
                        .collect()
                })
                .collect();
            Band::over_runs(label.clone(), &per_run, 0.0..1.0)
        })
        .collect();
    let runs_note = format!("{} runs, mean and 95% band", results.len());
    plot::draw(
        &a.out.join(socium_scenario::FREQUENCIES_PLOT),
        &format!("{}: strategy frequencies ({runs_note})", scenario.name),
        "generation",
        "frequency",
        &frequencies,
    )?;
    let cooperation: Option<Vec<Vec<f64>>> = results
        .iter()
        .map(|r| r.generations.iter().map(|g| g.cooperation).collect())
        .collect();
    let mut plots = socium_scenario::FREQUENCIES_PLOT.to_owned();
    if let Some(per_run) = cooperation {
        // A rate stays a rate: its band is clipped to [0, 1].
        let rate = per_run.iter().flatten().all(|v| (0.0..=1.0).contains(v));
        let clip = if rate {
            0.0..1.0
        } else {
            f64::NEG_INFINITY..f64::INFINITY
        };
        plot::draw(
            &a.out.join(socium_scenario::COOPERATION_PLOT),
            &format!("{}: {metric} ({runs_note})", scenario.name),
            "generation",
            metric,
            &[Band::over_runs(metric.to_owned(), &per_run, clip)],
        )?;
        plots = format!("{plots}, {}", socium_scenario::COOPERATION_PLOT);
    }

    say!(
        "{} — game {}, seed {}, {} × {}",
        summary.scenario,
        summary.game,
        seed,
        crate::counted(summary.runs as u64, "run"),
        crate::counted(summary.generations as u64, "generation")
    );
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "type",
        "initial",
        "final (mean over runs)",
        "runs most frequent",
    ]);
    for t in &summary.types {
        table.add_row(vec![
            t.label.to_owned(),
            format!("{:.3}", t.initial_frequency),
            format!("{:.3}", t.final_frequency),
            format!("{} of {}", t.runs_most_frequent, summary.runs),
        ]);
    }
    say!("{table}");
    say!(
        "wrote generations.csv, summary.json, {plots} in {}",
        a.out.display()
    );
    Ok(())
}
