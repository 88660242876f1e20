//! `socium view DIR`: one self-contained HTML page of a run's outputs — the social graph, the
//! dialogue with its rewards, a step scrubber, beliefs and the per-episode metrics (or the
//! generations of `socium evolve`). The page's script and styles (`view/view.js`, `view/view.css`)
//! and the run's data are inlined, so the file opens from disk with no server and no network.
//!
//! Everything is read and checked before anything is written: a bad input names its file and
//! line, and leaves no page behind (the page goes through a temporary file renamed at the end).

use anyhow::{Context, Result, bail};
use serde::Serialize;
use socium_core::{Audience, TranscriptLine};
use std::{
    collections::HashMap,
    io::{BufRead, Write as _},
    path::{Path, PathBuf},
};

const TEMPLATE: &str = include_str!("view/page.html");
const SCRIPT: &str = include_str!("view/view.js");
const STYLE: &str = include_str!("view/view.css");

/// What `socium view` was asked for.
pub struct Args<'a> {
    /// The output folder of `socium run` or `socium evolve`.
    pub dir: &'a Path,
    /// Only this episode of the transcript.
    pub episode: Option<u64>,
    /// The page (default `dir/view.html`).
    pub out: Option<PathBuf>,
    /// At most this many transcript lines go into the page.
    pub max_lines: u64,
}

/// What a page holds, said after writing it.
pub struct Written {
    /// The page's path.
    pub path: PathBuf,
    /// What went into it.
    pub shown: Shown,
}

/// What went into a page.
pub struct Shown {
    /// Episodes shown.
    pub episodes: usize,
    /// Transcript lines inlined.
    pub lines: u64,
    /// The table charted: `metrics.csv` or `generations.csv`.
    pub table: &'static str,
    /// Its rows.
    pub rows: usize,
    /// What was left out, in words (`None` when nothing was).
    pub left_out: Option<String>,
}

/// Reads the outputs in `a.dir`, builds the page and writes it.
pub fn view(a: &Args<'_>) -> Result<Written> {
    let (html, shown) = page(a.dir, a.episode, a.max_lines)?;
    let path = a
        .out
        .clone()
        .unwrap_or_else(|| a.dir.join(socium_scenario::PAGE));
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = socium_scenario::temp_file_in(parent, ".html")
        .with_context(|| format!("{}: cannot create a temporary file", parent.display()))?;
    file.write_all(html.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    socium_scenario::commit(vec![(file, path.clone())], &[])
        .map_err(|(_, e)| e)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Written { path, shown })
}

/// The run's data as the page's script reads it (`view/view.js`, `DATA`). Rows are arrays, not
/// objects, so that a 100,000-utterance page stays a few megabytes.
#[derive(Serialize)]
struct Data {
    /// `"run"` (socium run) or `"evolve"` (socium evolve).
    kind: &'static str,
    /// summary.json as written.
    summary: serde_json::Value,
    /// Each agent's group label, by agent id, as the run ended.
    agents: Vec<String>,
    /// The labels by agent id of each stretch of the run (`summary.json`'s `layouts`: the
    /// scenario's, then each timeline change's that renumbered or relabelled the agents); an
    /// episode names the one in force.
    layouts: Vec<Vec<String>>,
    /// Reward dimensions, by the index a reward row holds.
    dimensions: Vec<String>,
    /// Act kinds, by the index a made row holds.
    kinds: Vec<String>,
    /// Whether the run kept a transcript.
    transcript: bool,
    episodes: Vec<Episode>,
    /// What the page leaves out of the transcript, in words.
    left_out: Option<String>,
    /// Ties of graph.edges (`[output] graph`): `[a, b, weight]`.
    edges: Option<Vec<(u32, u32, f64)>>,
    /// metrics.csv, or generations.csv for `socium evolve`.
    table: Table,
}

/// One episode's transcript lines, by kind.
#[derive(Serialize)]
struct Episode {
    episode: u64,
    /// `[step, id, speaker, audience (-1: all), kind, target (-1: none), value, text, rewards]`.
    made: Vec<Made>,
    /// `[step, settled utterance id, rewards]`.
    settles: Vec<(u32, u64, Vec<Reward>)>,
    /// `[step, agent, fault]`.
    faults: Vec<(u32, u32, String)>,
    /// `[[timeline]]` changes: `[step (-1: the episode's start), what it sets]`.
    changes: Vec<(i64, String)>,
    /// Each agent's hidden role, where the game deals roles (empty otherwise).
    roles: Vec<String>,
    /// Whether the line limit cut the episode short.
    cut: bool,
    /// Its agents' labels: an index into [`Data::layouts`].
    layout: usize,
}

type Made = (
    u32,
    u64,
    u32,
    i64,
    usize,
    i64,
    f64,
    Option<String>,
    Vec<Reward>,
);
/// `[agent, dimension index, raw value]`.
type Reward = (u32, usize, f64);

/// A CSV file's columns and rows (an empty cell is `null`).
#[derive(Serialize)]
struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Option<f64>>>,
}

/// Interns names (dimensions, act kinds) as indices in order of first appearance.
#[derive(Default)]
struct Names {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Names {
    fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), self.names.len() - 1);
        self.names.len() - 1
    }
}

/// The page for the outputs in `dir`: its HTML, and what it shows and leaves out.
fn page(dir: &Path, episode: Option<u64>, max_lines: u64) -> Result<(String, Shown)> {
    if !dir.is_dir() {
        bail!("{}: no such folder", dir.display());
    }
    use socium_scenario::{GENERATIONS, METRICS, SUMMARY, TRANSCRIPT};
    let summary_path = dir.join(SUMMARY);
    let (metrics, generations) = (dir.join(METRICS), dir.join(GENERATIONS));
    let (kind, table_name, table_path) = if generations.is_file() {
        ("evolve", GENERATIONS, generations)
    } else {
        ("run", METRICS, metrics)
    };
    if !summary_path.is_file() || !table_path.is_file() {
        bail!(
            "{}: no run outputs: expected summary.json with metrics.csv (socium run) or \
             generations.csv (socium evolve)",
            dir.display()
        );
    }
    let text = std::fs::read_to_string(&summary_path)
        .with_context(|| format!("{}: cannot read", summary_path.display()))?;
    let summary: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}: not a summary: {e}",
            summary_path.display(),
            e.line()
        )
    })?;
    let table = read_table(&table_path)?;

    let transcript_path = dir.join(TRANSCRIPT);
    let transcript = kind == "run" && transcript_path.is_file();
    let (mut dimensions, mut kinds) = (Names::default(), Names::default());
    let mut read = if transcript {
        read_transcript(
            &transcript_path,
            episode,
            max_lines,
            &mut dimensions,
            &mut kinds,
        )?
    } else if let Some(e) = episode {
        bail!(
            "{}: no transcript, so no episode {e} to show ({})",
            transcript_path.display(),
            crate::replay::no_transcript(dir)
        );
    } else {
        Read::default()
    };

    // Agents by id: summary.json's layouts, `(first episode, labels)`, or (a `socium evolve`
    // folder, or a run written before layouts) its groups in order, each `agents` long.
    let layouts: Vec<(u64, Vec<String>)> = match summary["layouts"].as_array() {
        Some(layouts) => (layouts.iter())
            .map(|l| {
                let runs = l["agents"].as_array().map_or(&[][..], Vec::as_slice);
                let labels = runs.iter().flat_map(|run| {
                    let label = run[0].as_str().unwrap_or("agent");
                    let count = run[1].as_u64().unwrap_or(0);
                    (0..count).map(move |_| label.to_owned())
                });
                (l["episode"].as_u64().unwrap_or(0), labels.collect())
            })
            .collect(),
        None => {
            let groups = summary["groups"].as_array().map_or(&[][..], Vec::as_slice);
            let labels = groups.iter().flat_map(|g| {
                let label = g["label"].as_str().unwrap_or("agent");
                let count = g["agents"].as_u64().unwrap_or(0);
                (0..count).map(move |_| label.to_owned())
            });
            let mut labels: Vec<String> = labels.collect();
            // Agents the groups do not account for are named by their id alone.
            labels.resize(labels.len().max(read.agents), "agent".to_owned());
            vec![(0, labels)]
        }
    };
    for e in &mut read.episodes {
        // The layout in force: the last to start at or before the episode (one that starts part-
        // way through it names it, so its new labels show from the episode's first step).
        e.layout = layouts
            .partition_point(|(first, _)| *first <= e.episode)
            .saturating_sub(1);
    }
    let agents = layouts.last().map(|(_, l)| l.clone()).unwrap_or_default();
    let layouts: Vec<Vec<String>> = layouts.into_iter().map(|(_, l)| l).collect();
    let edges_path = dir.join("graph.edges");
    let edges = if edges_path.is_file() {
        Some(read_edges(&edges_path)?)
    } else {
        None
    };

    let title = summary["scenario"]
        .as_str()
        .unwrap_or("Socium run")
        .to_owned();
    let shown = Shown {
        episodes: read.episodes.len(),
        lines: read.kept,
        table: table_name,
        rows: table.rows.len(),
        left_out: read.left_out.clone(),
    };
    let data = Data {
        kind,
        summary,
        agents,
        layouts,
        dimensions: dimensions.names,
        kinds: kinds.names,
        transcript,
        episodes: read.episodes,
        left_out: read.left_out,
        edges,
        table,
    };
    // `</` could close the script element the data sits in; `<\/` is the same JSON string.
    let json = serde_json::to_string(&data)?.replace("</", "<\\/");
    let html = fill(
        TEMPLATE,
        &[
            ("{{title}}", &escape(&title)),
            ("{{style}}", STYLE),
            ("{{data}}", &json),
            ("{{script}}", SCRIPT),
        ],
    );
    Ok((html, shown))
}

/// `template` with each marker replaced once, in order (a value is never searched for markers,
/// so a transcript quoting `{{script}}` stays as it is).
fn fill(template: &str, parts: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + parts.iter().map(|p| p.1.len()).sum::<usize>());
    let mut rest = template;
    for (marker, value) in parts {
        let (before, after) = rest
            .split_once(marker)
            .expect("the page template holds each marker once, in order");
        out.push_str(before);
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A transcript's episodes as the page holds them.
#[derive(Default)]
struct Read {
    episodes: Vec<Episode>,
    /// One more than the highest agent id named.
    agents: usize,
    /// Lines kept.
    kept: u64,
    left_out: Option<String>,
}

/// Reads and checks every line of `path`; keeps the lines of `only` (or of every episode) until
/// `max_lines` are kept.
fn read_transcript(
    path: &Path,
    only: Option<u64>,
    max_lines: u64,
    dimensions: &mut Names,
    kinds: &mut Names,
) -> Result<Read> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut episodes: Vec<Episode> = Vec::new();
    let (mut agents, mut kept) = (0usize, 0u64);
    let mut seen_episodes = 0u64;
    // Lines dropped by the limit, and the episodes they belong to.
    let (mut dropped, mut dropped_episodes) = (0u64, Vec::<u64>::new());
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let at = || format!("{}:{}", path.display(), number + 1);
        let line = line.with_context(|| format!("{}: cannot read", at()))?;
        let l: TranscriptLine = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{}: not a transcript line: {e}", at()))?;
        let e = l.episode();
        seen_episodes = seen_episodes.max(e + 1);
        for r in l.rewards() {
            agents = agents.max(r.agent.0 as usize + 1);
        }
        if only.is_some_and(|o| o != e) {
            continue;
        }
        if kept >= max_lines {
            dropped += 1;
            if dropped_episodes.last() != Some(&e) {
                dropped_episodes.push(e);
            }
            if let Some(last) = episodes.last_mut().filter(|x| x.episode == e) {
                last.cut = true;
            }
            continue;
        }
        kept += 1;
        if episodes.last().is_none_or(|x| x.episode != e) {
            episodes.push(Episode {
                episode: e,
                made: Vec::new(),
                settles: Vec::new(),
                faults: Vec::new(),
                changes: Vec::new(),
                roles: Vec::new(),
                cut: false,
                layout: 0,
            });
        }
        let ep = episodes.last_mut().expect("pushed above");
        let mut rewards = |rs: &[socium_core::RewardLine]| -> Vec<Reward> {
            rs.iter()
                .map(|r| (r.agent.0, dimensions.id(&r.dimension), r.value))
                .collect()
        };
        match &l {
            TranscriptLine::Made {
                id,
                step,
                speaker,
                audience,
                act,
                text,
                rewards: rs,
                ..
            } => {
                agents = agents.max(speaker.0 as usize + 1);
                let audience = match audience {
                    Audience::All => -1,
                    Audience::Agent(a) => {
                        agents = agents.max(a.0 as usize + 1);
                        i64::from(a.0)
                    }
                };
                let target = act.target.map_or(-1, |t| {
                    agents = agents.max(t.0 as usize + 1);
                    i64::from(t.0)
                });
                ep.made.push((
                    *step,
                    id.0,
                    speaker.0,
                    audience,
                    kinds.id(&act.kind),
                    target,
                    act.value,
                    text.as_deref().map(str::to_owned),
                    rewards(rs),
                ));
            }
            TranscriptLine::Settles {
                step,
                settles,
                rewards: rs,
                ..
            } => ep.settles.push((*step, settles.0, rewards(rs))),
            TranscriptLine::Fault {
                step, agent, fault, ..
            } => ep.faults.push((*step, agent.0, fault.to_string())),
            TranscriptLine::Change { step, timeline, .. } => ep
                .changes
                .push((step.map_or(-1, i64::from), timeline.to_string())),
            TranscriptLine::Roles { roles, .. } => {
                agents = agents.max(roles.len());
                ep.roles = roles.iter().map(|r| r.to_string()).collect();
            }
        }
    }
    if let Some(o) = only
        && episodes.is_empty()
    {
        if o < seen_episodes {
            bail!(
                "{}: episode {o}: --max-lines {max_lines} keeps none of its lines",
                path.display()
            );
        }
        return Err(crate::no_episode(path, o, seen_episodes));
    }
    let left_out = (dropped > 0).then(|| {
        let cut: Vec<String> = (episodes.iter().filter(|e| e.cut))
            .map(|e| format!("the end of episode {}", e.episode))
            .collect();
        let whole: Vec<u64> = (dropped_episodes.iter().copied())
            .filter(|d| !episodes.iter().any(|e| e.episode == *d))
            .collect();
        let mut what = cut;
        match whole.as_slice() {
            [] => {}
            [one] => what.push(format!("episode {one}")),
            [first, .., last] => what.push(format!("{} episodes ({first} to {last})", whole.len())),
        }
        let mut s = format!(
            "{dropped} transcript lines over --max-lines {max_lines}: {}",
            what.join(", ")
        );
        if only.is_none() {
            s.push_str("; choose one with --episode N");
        }
        s
    });
    Ok(Read {
        episodes,
        agents,
        kept,
        left_out,
    })
}

/// A CSV file of numbers with a header (metrics.csv, generations.csv; RFC 4180, so a quoted
/// column name may hold commas).
fn read_table(path: &Path) -> Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut records = reader.records();
    let at = |e: &csv::Error| {
        let line = e
            .position()
            .map_or(String::new(), |p| format!(":{}", p.line()));
        format!("{}{line}", path.display())
    };
    let columns: Vec<String> = match records.next() {
        Some(Ok(h)) if !(h.len() == 1 && h[0].is_empty()) => h.iter().map(str::to_owned).collect(),
        Some(Err(e)) => bail!("{}: {e}", at(&e)),
        _ => bail!("{}:1: no header", path.display()),
    };
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| anyhow::anyhow!("{}: {e}", at(&e)))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != columns.len() {
            bail!(
                "{}:{line}: {} cells, the header has {}",
                path.display(),
                record.len(),
                columns.len()
            );
        }
        let row = (record.iter().zip(&columns))
            .map(|(cell, column)| {
                if cell.is_empty() {
                    return Ok(None);
                }
                cell.parse::<f64>().map(Some).map_err(|_| {
                    anyhow::anyhow!(
                        "{}:{line}: `{column}`: expected a number, found `{cell}`",
                        path.display()
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

/// graph.edges: `a b relationship weight` per line.
fn read_edges(path: &Path) -> Result<Vec<(u32, u32, f64)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut edges = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let parsed = match fields.as_slice() {
            [a, b, rest @ ..] => a
                .parse::<u32>()
                .ok()
                .zip(b.parse::<u32>().ok())
                .map(|(a, b)| {
                    let w = rest
                        .get(1)
                        .and_then(|w| w.parse::<f64>().ok())
                        .unwrap_or(1.0);
                    (a, b, w)
                }),
            _ => None,
        };
        let Some(edge) = parsed else {
            bail!(
                "{}:{}: expected `a b relationship weight`, found `{line}`",
                path.display(),
                i + 1
            );
        };
        edges.push(edge);
    }
    Ok(edges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_filled_once_and_values_never_searched() {
        let t = "a{{title}}b{{style}}c{{data}}d{{script}}e";
        let out = fill(
            t,
            &[
                ("{{title}}", "T"),
                ("{{style}}", "{{data}}"),
                ("{{data}}", "D"),
                ("{{script}}", "S"),
            ],
        );
        assert_eq!(out, "aTb{{data}}cDdSe");
    }
}
