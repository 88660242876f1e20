//! `socium replay DIR`: one episode of a run's transcript, step by step, in words.

use anyhow::{Context, Result};
use socium_core::{TranscriptLine, UtteranceId};
use std::{collections::HashMap, fmt::Write as _, io::BufRead, path::Path};

/// Why the folder `dir` holds no transcript, and what to do, for an error message.
pub fn no_transcript(dir: &Path) -> &'static str {
    if dir.join(socium_scenario::GENERATIONS).is_file() {
        "`socium evolve` keeps none; `socium run` the scenario to see its episodes"
    } else if dir.join(socium_scenario::SUMMARY).is_file() {
        "set `[output] transcript = true` in the scenario and run it"
    } else {
        "no run was written here: `socium run` a scenario with this folder as `--out`"
    }
}

/// The episode `episode` of `dir/transcript.jsonl`, as text: a heading per step, a line per
/// utterance with the rewards it caused.
pub fn render(dir: &Path, episode: u64) -> Result<String> {
    let path = dir.join(socium_scenario::TRANSCRIPT);
    let file = std::fs::File::open(&path)
        .with_context(|| format!("{}: no transcript ({})", path.display(), no_transcript(dir)))?;
    let mut out = format!("episode {episode}\n");
    let (mut last_step, mut lines, mut episodes) = (None, 0, 0);
    // What each utterance of the episode said, for the rewards that settle it later.
    let mut said: HashMap<UtteranceId, String> = HashMap::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line =
            line.with_context(|| format!("{}:{}: cannot read", path.display(), number + 1))?;
        let l: TranscriptLine = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a transcript line", path.display(), number + 1))?;
        let (e, step) = (l.episode(), l.step());
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
            TranscriptLine::Made {
                id,
                speaker,
                act,
                text,
                rewards,
                ..
            } => {
                let text = text.map(String::from).unwrap_or_else(|| {
                    let target = act.target.map(|t| format!(" {t}")).unwrap_or_default();
                    format!("{speaker} {}{target}", act.kind)
                });
                write!(out, "  {text}").expect("writing to a String");
                said.insert(id, text);
                rewards
            }
            TranscriptLine::Settles {
                settles, rewards, ..
            } => {
                let what = said.get(&settles).map_or("an earlier act", String::as_str);
                write!(out, "  settles {what}").expect("writing to a String");
                rewards
            }
            TranscriptLine::Change { timeline, .. } => {
                write!(out, "  the scenario changes: {timeline}").expect("writing to a String");
                Vec::new()
            }
            TranscriptLine::Roles { roles, .. } => {
                let roles: Vec<String> = (roles.iter().enumerate())
                    .map(|(a, role)| format!("agent {a} {role}"))
                    .collect();
                write!(out, "  roles: {}", roles.join(", ")).expect("writing to a String");
                Vec::new()
            }
            TranscriptLine::Fault { agent, fault, .. } => {
                write!(out, "  fault: {agent} takes the default act: {fault}")
                    .expect("writing to a String");
                Vec::new()
            }
        };
        if !rewards.is_empty() {
            let rewards: Vec<String> = rewards
                .iter()
                .map(|r| format!("{} {:+} to {}", r.dimension, r.value, r.agent))
                .collect();
            write!(out, "    [{}]", rewards.join(", ")).expect("writing to a String");
        }
        out.push('\n');
    }
    if lines == 0 {
        return Err(crate::no_episode(&path, episode, episodes));
    }
    Ok(out)
}
