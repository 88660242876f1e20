//! `socium replay DIR`: one episode of a run's transcript, step by step, in words.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::{fmt::Write as _, io::BufRead, path::Path};

/// One transcript line, as `socium run` writes it (the fields replay needs).
#[derive(Deserialize)]
struct Line {
    episode: u64,
    step: u32,
    speaker: u32,
    act: Act,
    text: Option<String>,
    rewards: Vec<Reward>,
}

#[derive(Deserialize)]
struct Act {
    kind: String,
    target: Option<u32>,
}

#[derive(Deserialize)]
struct Reward {
    agent: u32,
    dimension: String,
    value: f64,
}

/// The episode `episode` of `dir/transcript.jsonl`, as text: a heading per step, a line per
/// utterance with the rewards it caused.
pub fn render(dir: &Path, episode: u64) -> Result<String> {
    let path = dir.join("transcript.jsonl");
    let file = std::fs::File::open(&path).with_context(|| {
        format!(
            "{}: no transcript (set `[output] transcript = true` in the scenario and run it)",
            path.display()
        )
    })?;
    let mut out = format!("episode {episode}\n");
    let (mut last_step, mut lines, mut episodes) = (None, 0, 0);
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let l: Line = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a transcript line", path.display(), number + 1))?;
        episodes = episodes.max(l.episode + 1);
        if l.episode != episode {
            continue;
        }
        lines += 1;
        if last_step != Some(l.step) {
            writeln!(out, "step {}", l.step).expect("writing to a String");
            last_step = Some(l.step);
        }
        let text = l.text.unwrap_or_else(|| {
            let target = l
                .act
                .target
                .map(|t| format!(" agent {t}"))
                .unwrap_or_default();
            format!("agent {} {}{target}", l.speaker, l.act.kind)
        });
        write!(out, "  {text}").expect("writing to a String");
        if !l.rewards.is_empty() {
            let rewards: Vec<String> = l
                .rewards
                .iter()
                .map(|r| format!("{} {:+} to agent {}", r.dimension, r.value, r.agent))
                .collect();
            write!(out, "    [{}]", rewards.join(", ")).expect("writing to a String");
        }
        out.push('\n');
    }
    if lines == 0 {
        bail!(
            "{}: no episode {episode} (the transcript has {episodes} episodes, 0 to {})",
            path.display(),
            episodes.saturating_sub(1)
        );
    }
    Ok(out)
}
