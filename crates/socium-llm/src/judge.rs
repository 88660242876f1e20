//! A judge measured against the truth: a language model scores each agent of a finished episode
//! on the game's reward dimensions, in Sotopia's evaluation format (a reasoning and a score per
//! dimension; Zhou et al. 2024), from the episode's words only; where the game computes the
//! dimensions exactly, [`socium_core::Agreement`] says how far the judge is from them (Spearman's rank
//! correlation and the mean absolute error, per dimension).

use crate::{Chat, LlmConfig, answer::json_object, chat_for, request_body};
use serde_json::{Value, json};
use socium_core::{AgentId, DimensionInfo};
use std::path::Path;

/// The judge's system message when the scenario gives no `system` template: `{game}` and
/// `{dimensions}` (a line per dimension) are filled in.
pub const JUDGE_SYSTEM: &str = "You evaluate one agent's behaviour in an episode of the game \
{game}, from what was said and done. Score the agent on each dimension, after a short \
reasoning:\n{dimensions}\nAnswer with one JSON object: for each dimension, an object with \
\"reasoning\" (a sentence) and \"score\" (a number, a whole one within the range where a \
dimension gives one).";

/// The judge's user message when the scenario gives no `user` template: `{episode}` (the
/// episode's lines) and `{agent}` are filled in.
pub const JUDGE_USER: &str = "The episode:\n{episode}\n\nEvaluate {agent}.";

/// An attribution's system message when the scenario gives no `system` template: `{game}` and
/// `{dimensions}` (a line per dimension) are filled in. After Sotopia-RL's attribution prompt
/// (Yu et al. 2025): each utterance of one agent rated 0..3 per dimension, given the whole
/// episode.
pub const RATE_SYSTEM: &str = "You attribute the outcome of an episode of the game {game} to the \
utterances of one agent. For each of its utterances, rate how much it contributed to the \
agent's final score on each dimension: 0 not at all, 1 a little, 2 much, 3 decisively.\n\
{dimensions}\nAnswer with one JSON object: for each utterance id, an object with an integer \
rating per dimension.";

/// An attribution's user message when the scenario gives no `user` template: `{episode}` (the
/// episode's lines, each utterance named `u<id>`), `{agent}` and `{utterances}` (the agent's
/// utterance ids) are filled in.
pub const RATE_USER: &str =
    "The episode:\n{episode}\n\nRate the utterances of {agent}: {utterances}.";

/// A language model scoring agents after each episode ([`Judge::score`]), or rating their
/// utterances for attribution ([`Judge::rate`]).
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
    /// why there are none after the retries (a fault: `Ok(Err(why))`). `Err` when the run must
    /// stop: the server refused, or none was ever reached ([`Chat::converse`]), where every
    /// judgement of the run would fail alike.
    pub fn score(
        &self,
        game: &str,
        dimensions: &[DimensionInfo],
        episode: &str,
        agent: &str,
    ) -> Result<Result<Vec<f64>, String>, String> {
        let system = (self.config.system.as_deref().unwrap_or(JUDGE_SYSTEM))
            .replace("{game}", game)
            .replace("{dimensions}", &described(dimensions, true));
        let user = (self.config.user.as_deref().unwrap_or(JUDGE_USER))
            .replace("{episode}", episode)
            .replace("{agent}", agent);
        let names: Vec<&str> = dimensions.iter().map(|d| d.name).collect();
        let evaluations: Vec<Value> = dimensions.iter().map(evaluation).collect();
        let schema = object_of(&names, &evaluations);
        self.ask(&system, &user, "evaluation", schema, |text| {
            scores(text, dimensions)
        })
    }

    /// Sotopia-RL's attribution ratings (Yu et al. 2025, arXiv 2508.03905): how much each of
    /// `agent`'s utterances `ids` (named `u<id>` in `episode`'s lines) contributed to its score
    /// on each of `dimensions`, from 0 (not at all) to 3 (decisively), `[ids × dimensions]`; or
    /// why there are none, as [`Judge::score`] says.
    pub fn rate(
        &self,
        game: &str,
        dimensions: &[&DimensionInfo],
        episode: &str,
        agent: &str,
        ids: &[u64],
    ) -> Result<Result<Vec<f64>, String>, String> {
        let system = (self.config.system.as_deref().unwrap_or(RATE_SYSTEM))
            .replace("{game}", game)
            .replace(
                "{dimensions}",
                &described(dimensions.iter().copied(), false),
            );
        let keys: Vec<String> = ids.iter().map(|id| format!("u{id}")).collect();
        let user = (self.config.user.as_deref().unwrap_or(RATE_USER))
            .replace("{episode}", episode)
            .replace("{agent}", agent)
            .replace("{utterances}", &keys.join(", "));
        let names: Vec<&str> = dimensions.iter().map(|d| d.name).collect();
        let rating = json!({"type": "integer", "enum": [0, 1, 2, 3]});
        let rating = object_of(&names, &vec![rating; names.len()]);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let schema = object_of(&keys, &vec![rating; keys.len()]);
        self.ask(&system, &user, "attribution", schema, |text| {
            ratings(text, &keys, &names)
        })
    }

    /// Asks the model, whose answer must follow the JSON `schema`, until `read` takes an answer
    /// or the retries are spent ([`Chat::converse`]'s two kinds of failure).
    fn ask<T>(
        &self,
        system: &str,
        user: &str,
        name: &str,
        schema: Value,
        read: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Result<T, String>, String> {
        let messages = vec![
            json!({"role": "system", "content": system}),
            json!({"role": "user", "content": user}),
        ];
        // The judge asks for no agent of the game: the agent it scores is in the messages.
        let judge = AgentId(0);
        let request =
            |messages: &[Value]| request_body(&self.config, judge, messages, name, &schema);
        self.chat
            .converse(messages, 1 + self.config.retries, None, request, read)
    }
}

/// A line per dimension, `- name: summary`; with `scales`, a judge's scale where the dimension
/// has one: `- goal (a whole number from 0 to 10): summary`.
fn described<'a>(dimensions: impl IntoIterator<Item = &'a DimensionInfo>, scales: bool) -> String {
    let lines: Vec<String> = (dimensions.into_iter())
        .map(|d| match d.range.filter(|_| scales) {
            Some((low, high)) => format!(
                "- {} (a whole number from {low} to {high}): {}",
                d.name, d.summary
            ),
            None => format!("- {}: {}", d.name, d.summary),
        })
        .collect();
    lines.join("\n")
}

/// The JSON schema of one dimension's evaluation: a reasoning and a score, a whole number
/// within the dimension's scale where it has one (Sotopia's evaluator takes integer scores).
fn evaluation(d: &DimensionInfo) -> Value {
    let score = match d.range {
        // Whole bounds, as an integer schema's are written (Sotopia's scales are whole).
        Some((low, high)) => {
            json!({"type": "integer", "minimum": low.ceil() as i64, "maximum": high.floor() as i64})
        }
        None => json!({"type": "number"}),
    };
    json!({
        "type": "object",
        "properties": {"reasoning": {"type": "string"}, "score": score},
        "required": ["reasoning", "score"],
        "additionalProperties": false,
    })
}

/// The JSON schema of an object whose property `keys[i]` follows `schemas[i]`.
fn object_of(keys: &[&str], schemas: &[Value]) -> Value {
    let properties: serde_json::Map<String, Value> = (keys.iter().zip(schemas))
        .map(|(k, schema)| ((*k).to_owned(), schema.clone()))
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": keys,
        "additionalProperties": false,
    })
}

/// Each utterance's (`keys`) rating on each dimension (`names`) in a rater's answer, in 0..=3.
fn ratings(text: &str, keys: &[&str], names: &[&str]) -> Result<Vec<f64>, String> {
    let value = json_object(text, "attribution")?;
    let mut out = Vec::with_capacity(keys.len() * names.len());
    for k in keys {
        for n in names {
            // Sotopia-RL's ratings are whole numbers, as the schema asks.
            let rating = (value[k][n].as_f64())
                .filter(|r| (0.0..=3.0).contains(r) && r.fract() == 0.0)
                .ok_or_else(|| format!("the attribution has no rating 0, 1, 2 or 3 `{k}.{n}`"))?;
            out.push(rating);
        }
    }
    Ok(out)
}

/// The score on each of `dimensions` in a judge's answer, each a whole number within its
/// dimension's range where it has one (as Sotopia's evaluator validates its integer scales and
/// asks again).
fn scores(text: &str, dimensions: &[DimensionInfo]) -> Result<Vec<f64>, String> {
    let value = json_object(text, "evaluation")?;
    (dimensions.iter())
        .map(|d| {
            let n = d.name;
            let score = (value[n]["score"].as_f64())
                .filter(|s| s.is_finite())
                .ok_or_else(|| format!("the evaluation has no number `{n}.score`"))?;
            match d.range {
                Some((low, high)) if !(low..=high).contains(&score) => Err(format!(
                    "`{n}.score` is {score}, outside the dimension's range {low}..{high}"
                )),
                Some(_) if score.fract() != 0.0 => Err(format!(
                    "`{n}.score` is {score}: the dimension's scale takes whole numbers"
                )),
                _ => Ok(score),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sotopias_evaluation_format_within_each_range() {
        let dimension = |name, range| DimensionInfo {
            name,
            summary: "",
            default_weight: 1.0,
            range,
        };
        let dimensions = [
            dimension("goal", Some((0.0, 10.0))),
            dimension("secret", Some((-10.0, 0.0))),
            dimension("payoff", None),
        ];
        let scored = |goal: &str, secret: &str| {
            let text = format!(
                r#"{{"goal": {{"reasoning": "got most", "score": {goal}}}, "secret": {{"reasoning": "kept it", "score": {secret}}}, "payoff": {{"score": -40}}}}"#
            );
            scores(&text, &dimensions)
        };
        assert_eq!(scored("7", "0").unwrap(), vec![7.0, 0.0, -40.0]);
        assert_eq!(scored("10", "-10").unwrap(), vec![10.0, -10.0, -40.0]);
        assert_eq!(
            scored("7", "7").unwrap_err(),
            "`secret.score` is 7, outside the dimension's range -10..0"
        );
        assert!(
            scored("11", "0")
                .unwrap_err()
                .contains("`goal.score` is 11")
        );
        assert_eq!(
            scored("7.5", "0").unwrap_err(),
            "`goal.score` is 7.5: the dimension's scale takes whole numbers"
        );
        // A dimension without a scale takes any number.
        let text = r#"{"goal": {"score": 7}, "secret": {"score": 0}, "payoff": {"score": 2.5}}"#;
        assert_eq!(scores(text, &dimensions).unwrap(), vec![7.0, 0.0, 2.5]);
        let schema = evaluation(&dimensions[0]);
        assert_eq!(
            schema["properties"]["score"],
            json!({"type": "integer", "minimum": 0, "maximum": 10})
        );
        assert_eq!(
            evaluation(&dimensions[2])["properties"]["score"]["type"],
            "number"
        );
        assert_eq!(
            described(&dimensions, true),
            "- goal (a whole number from 0 to 10): \n- secret (a whole number from -10 to 0): \n\
             - payoff: "
        );
        assert!(
            scores(r#"{"goal": {"score": "high"}}"#, &dimensions)
                .unwrap_err()
                .contains("goal.score")
        );
    }

    #[test]
    fn reads_ratings_in_0_to_3_for_every_utterance_and_dimension() {
        let text = r#"Here: {"u3": {"goal": 3, "secret": 0}, "u7": {"goal": 1, "secret": 2}}"#;
        assert_eq!(
            ratings(text, &["u3", "u7"], &["goal", "secret"]).unwrap(),
            vec![3.0, 0.0, 1.0, 2.0]
        );
        let missing = ratings(r#"{"u3": {"goal": 3}}"#, &["u3"], &["goal", "secret"]);
        assert!(missing.unwrap_err().contains("u3.secret"));
        let out_of_range = ratings(r#"{"u3": {"goal": 4}}"#, &["u3"], &["goal"]);
        assert!(out_of_range.unwrap_err().contains("0, 1, 2 or 3"));
        let between = ratings(r#"{"u3": {"goal": 2.5}}"#, &["u3"], &["goal"]);
        assert!(between.unwrap_err().contains("u3.goal"));
        assert!(
            ratings("no", &["u3"], &["goal"])
                .unwrap_err()
                .contains("no JSON")
        );
    }
}
