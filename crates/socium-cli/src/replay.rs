//! `socium replay DIR`: one episode of a run's transcript, step by step, in words.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::{collections::HashMap, fmt::Write as _, io::BufRead, path::Path};

/// One transcript line, as `socium run` writes it (the fields replay needs): an utterance with
/// its rewards, or rewards settling an utterance of an earlier step.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Made {
        episode: u64,
        step: u32,
        id: u64,
        speaker: u32,
        act: Act,
        text: Option<String>,
        rewards: Vec<Reward>,
    },
    Settles {
        episode: u64,
        step: u32,
        settles: u64,
        rewards: Vec<Reward>,
    },
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
    // What each utterance of the episode said, for the rewards that settle it later.
    let mut said: HashMap<u64, String> = HashMap::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let l: Line = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a transcript line", path.display(), number + 1))?;
        let (Line::Made {
            episode: e, step, ..
        }
        | Line::Settles {
            episode: e, step, ..
        }) = l;
        episodes = episodes.max(e + 1);
        if e != episode {
            continue;
        }
        lines += 1;
        if last_step != Some(step) {
            writeln!(out, "step {step}").expect("writing to a String");
            last_step = Some(step);
        }
        let rewards = match l {
            Line::Made {
                id,
                speaker,
                act,
                text,
                rewards,
                ..
            } => {
                let text = text.unwrap_or_else(|| {
                    let target = act
                        .target
                        .map(|t| format!(" agent {t}"))
                        .unwrap_or_default();
                    format!("agent {speaker} {}{target}", act.kind)
                });
                write!(out, "  {text}").expect("writing to a String");
                said.insert(id, text);
                rewards
            }
            Line::Settles {
                settles, rewards, ..
            } => {
                let what = said.get(&settles).map_or("an earlier act", String::as_str);
                write!(out, "  settles {what}").expect("writing to a String");
                rewards
            }
        };
        if !rewards.is_empty() {
            let rewards: Vec<String> = rewards
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
