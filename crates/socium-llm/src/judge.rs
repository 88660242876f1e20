//! A judge measured against the truth: a language model scores each agent of a finished episode
//! on the game's reward dimensions, in Sotopia's evaluation format (a reasoning and a score per
//! dimension; Zhou et al. 2024), from the episode's words only; where the game computes the
//! dimensions exactly, [`Agreement`] says how far the judge is from them (Spearman's rank
//! correlation and the mean absolute error, per dimension).

use crate::{Chat, ChatError, LlmConfig, chat_for};
use serde::Serialize;
use serde_json::{Value, json};
use socium_core::DimensionInfo;
use std::path::Path;

/// The judge's system message when the scenario gives no `system` template: `{game}` and
/// `{dimensions}` (a line per dimension) are filled in.
pub const JUDGE_SYSTEM: &str = "You evaluate one agent's behaviour in an episode of the game \
{game}, from what was said and done. Score the agent on each dimension, after a short \
reasoning:\n{dimensions}\nAnswer with one JSON object: for each dimension, an object with \
\"reasoning\" (a sentence) and \"score\" (a number).";

/// The judge's user message when the scenario gives no `user` template: `{episode}` (the
/// episode's lines) and `{agent}` are filled in.
pub const JUDGE_USER: &str = "The episode:\n{episode}\n\nEvaluate {agent}.";

/// A language model scoring agents after each episode.
pub struct Judge {
    config: LlmConfig,
    chat: Chat,
}

impl Judge {
    /// A judge; `dir` anchors the cache file. Refused when the key's variable is not set or the
    /// cache cannot be read.
    pub fn new(config: LlmConfig, dir: &Path) -> Result<Self, String> {
        let chat = chat_for(&config, dir)?;
        Ok(Judge { config, chat })
    }

    /// The model, for reports.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// `agent`'s scores on `dimensions` for the episode told by `episode` (one line per act), or
    /// why there are none (after the retries; a refusal too).
    pub fn score(
        &self,
        game: &str,
        dimensions: &[DimensionInfo],
        episode: &str,
        agent: &str,
    ) -> Result<Vec<f64>, String> {
        let described: Vec<String> = dimensions
            .iter()
            .map(|d| format!("- {}: {}", d.name, d.summary))
            .collect();
        let system = (self.config.system.as_deref().unwrap_or(JUDGE_SYSTEM))
            .replace("{game}", game)
            .replace("{dimensions}", &described.join("\n"));
        let user = (self.config.user.as_deref().unwrap_or(JUDGE_USER))
            .replace("{episode}", episode)
            .replace("{agent}", agent);
        let mut properties = serde_json::Map::new();
        for d in dimensions {
            properties.insert(
                d.name.to_owned(),
                json!({
                    "type": "object",
                    "properties": {"reasoning": {"type": "string"}, "score": {"type": "number"}},
                    "required": ["reasoning", "score"],
                    "additionalProperties": false,
                }),
            );
        }
        let names: Vec<&str> = dimensions.iter().map(|d| d.name).collect();
        let schema = json!({
            "type": "object",
            "properties": properties,
            "required": names,
            "additionalProperties": false,
        });
        let mut last = String::new();
        for _ in 0..=self.config.retries {
            let request = json!({
                "model": self.config.model,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                "temperature": self.config.temperature.get(),
                "max_tokens": self.config.max_tokens.get(),
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "evaluation", "strict": true, "schema": schema},
                },
            });
            match self.chat.complete(&request) {
                Ok(text) => match scores(&text, &names) {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                },
                Err(ChatError::Refused(m)) => return Err(m),
                Err(ChatError::Transient(m)) => last = m,
            }
        }
        Err(last)
    }
}

/// The score of each of `names` in a judge's answer.
fn scores(text: &str, names: &[&str]) -> Result<Vec<f64>, String> {
    let (start, end) = (text.find('{'), text.rfind('}'));
    let object = match (start, end) {
        (Some(s), Some(e)) if s < e => &text[s..=e],
        _ => return Err("the evaluation holds no JSON object".into()),
    };
    let value: Value = serde_json::from_str(object)
        .map_err(|e| format!("the evaluation is not valid JSON: {e}"))?;
    names
        .iter()
        .map(|n| {
            value[n]["score"]
                .as_f64()
                .filter(|s| s.is_finite())
                .ok_or_else(|| format!("the evaluation has no number `{n}.score`"))
        })
        .collect()
}

/// How a judge's scores of one dimension agree with the exact values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Agreement {
    /// Agent-episodes scored.
    pub n: usize,
    /// Spearman's rank correlation (ties ranked by their mean rank); `None` when either side
    /// is constant or fewer than 2 were scored.
    pub spearman: Option<f64>,
    /// Mean absolute error.
    pub mae: f64,
    /// The judge's mean score.
    pub mean_judge: f64,
    /// The exact values' mean.
    pub mean_exact: f64,
}

impl Agreement {
    /// The agreement of `judge` with `exact` (paired).
    pub fn of(judge: &[f64], exact: &[f64]) -> Agreement {
        let n = judge.len();
        let mean = |x: &[f64]| x.iter().sum::<f64>() / n.max(1) as f64;
        let mae = judge
            .iter()
            .zip(exact)
            .map(|(j, e)| (j - e).abs())
            .sum::<f64>()
            / n.max(1) as f64;
        Agreement {
            n,
            spearman: pearson(&ranks(judge), &ranks(exact)),
            mae,
            mean_judge: mean(judge),
            mean_exact: mean(exact),
        }
    }
}

/// Each value's rank (1-based), ties sharing their mean rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson's correlation, `None` when undefined.
fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_tied_data() {
        let a = Agreement::of(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]);
        assert_eq!(a.spearman, Some(1.0));
        assert_eq!(a.mae, (9.0 + 18.0 + 27.0 + 36.0) / 4.0);
        let reversed = Agreement::of(&[4.0, 3.0, 2.0, 1.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((reversed.spearman.unwrap() + 1.0).abs() < 1e-12);
        // Ties: ranks [1.5, 1.5, 3] against [1, 2, 3]: r = 0.866...
        let tied = Agreement::of(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]);
        assert!((tied.spearman.unwrap() - 0.75f64.sqrt()).abs() < 1e-12);
        assert_eq!(Agreement::of(&[5.0, 5.0], &[1.0, 2.0]).spearman, None);
    }

    #[test]
    fn reads_sotopias_evaluation_format() {
        let text = r#"{"goal": {"reasoning": "got most", "score": 7}, "secret": {"reasoning": "kept it", "score": 0}}"#;
        assert_eq!(scores(text, &["goal", "secret"]).unwrap(), vec![7.0, 0.0]);
        assert!(
            scores(r#"{"goal": {"score": "high"}}"#, &["goal"])
                .unwrap_err()
                .contains("goal.score")
        );
    }
}
