//! What a language model answers: a JSON object whose keys follow the agent's action space, with
//! a JSON schema to constrain it, a parser that checks it against the action mask, and the head
//! row (the policy output the kernel turns into the action) it stands for.
//!
//! Keys: `act` (the first discrete part: one of the legal choices), `choices` (a `MultiDiscrete`
//! part: one legal choice per component), `amount` (a one-value `Box` part, within its bounds),
//! `belief` (a `Simplex` part: non-negative weights, normalised here) and `say` (a `Text` part:
//! free text of at most its characters). The default answer — what an agent does when its
//! model gives no usable answer — is each discrete part's first legal choice, each `Box` part's
//! lower bound, a uniform belief and no text: act 0 is the skip, pass or wait of every game
//! that has one.

use serde_json::{Value, json};
use socium_core::Space;

/// One part of the action, as the answer names it.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    /// `act`: one choice among `n`; its mask entries start at `mask`.
    Act { n: usize, mask: usize },
    /// `choices`: one choice per component; component `i`'s mask entries start at `mask[i]`.
    Choices { nvec: Vec<usize>, mask: Vec<usize> },
    /// `amount`: one number in `[low, high]`.
    Amount { low: f32, high: f32 },
    /// `belief`: `n` weights.
    Belief { n: usize },
    /// `say`: at most `max_chars` characters.
    Say { max_chars: usize },
}

/// The answer format of one action space.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerFormat {
    parts: Vec<Part>,
    head_dim: usize,
}

/// An answer that is not one: what is wrong, said so that a model can correct it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadAnswer(pub String);

/// A parsed answer: the head row the kernel turns into the action, and the text said.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The action head row (`Space::head_dim` values).
    pub head: Vec<f32>,
    /// The free text said, if the space takes text and the answer gave some.
    pub say: Option<String>,
}

impl AnswerFormat {
    /// The format of `space`, or why a language model cannot answer in it.
    pub fn new(space: &Space) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut mask = 0;
        let flat: Vec<&Space> = match space {
            Space::Tuple(parts) => parts.iter().collect(),
            one => vec![one],
        };
        for part in flat {
            let p = match part {
                Space::Discrete { n } if !parts.iter().any(|p| matches!(p, Part::Act { .. })) => {
                    Part::Act {
                        n: *n as usize,
                        mask,
                    }
                }
                Space::MultiDiscrete { nvec } => {
                    let starts = nvec
                        .iter()
                        .scan(mask, |at, &n| {
                            let start = *at;
                            *at += n as usize;
                            Some(start)
                        })
                        .collect();
                    Part::Choices {
                        nvec: nvec.iter().map(|&n| n as usize).collect(),
                        mask: starts,
                    }
                }
                Space::Box { low, high } if low.len() == 1 => Part::Amount {
                    low: low[0],
                    high: high[0],
                },
                Space::Simplex { n } => Part::Belief { n: *n as usize },
                Space::Text { max_chars } => Part::Say {
                    max_chars: *max_chars as usize,
                },
                other => {
                    return Err(format!(
                        "a language model answers with one discrete act, choices, one amount, a \
                         belief and text; the action space has {other:?}"
                    ));
                }
            };
            mask += part.mask_dim();
            parts.push(p);
        }
        Ok(AnswerFormat {
            parts,
            head_dim: space.head_dim(),
        })
    }

    /// The JSON schema of a legal answer under `mask` (the legal choices are an `enum`).
    pub fn schema(&self, mask: &[u8]) -> Value {
        let legal = |start: usize, n: usize| -> Vec<usize> {
            (0..n)
                .filter(|&i| mask.get(start + i).is_none_or(|&m| m != 0))
                .collect()
        };
        let mut properties = serde_json::Map::new();
        for part in &self.parts {
            let (key, schema) = match part {
                Part::Act { n, mask } => {
                    ("act", json!({"type": "integer", "enum": legal(*mask, *n)}))
                }
                Part::Choices { nvec, mask } => {
                    let items: Vec<Value> = nvec
                        .iter()
                        .zip(mask)
                        .map(|(&n, &m)| json!({"type": "integer", "enum": legal(m, n)}))
                        .collect();
                    let len = items.len();
                    (
                        "choices",
                        json!({"type": "array", "prefixItems": items, "minItems": len, "maxItems": len}),
                    )
                }
                Part::Amount { low, high } => (
                    "amount",
                    json!({"type": "number", "minimum": low, "maximum": high}),
                ),
                Part::Belief { n } => (
                    "belief",
                    json!({"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": n, "maxItems": n}),
                ),
                Part::Say { max_chars } => {
                    ("say", json!({"type": "string", "maxLength": max_chars}))
                }
            };
            properties.insert(key.to_owned(), schema);
        }
        let required: Vec<&String> = properties.keys().collect();
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// Parses a model's answer (a JSON object, possibly fenced or with words around it) under
    /// `mask`.
    pub fn parse(&self, text: &str, mask: &[u8]) -> Result<Answer, BadAnswer> {
        let bad = |m: String| BadAnswer(m);
        let value = json_object(text, "answer").map_err(bad)?;
        let field = |key: &str| {
            value
                .get(key)
                .ok_or_else(|| bad(format!("the answer has no `{key}`")))
        };
        let legal = |start: usize, i: usize| mask.get(start + i).is_none_or(|&m| m != 0);
        let choice = |v: &Value, key: &str, n: usize, start: usize| -> Result<usize, BadAnswer> {
            // A whole number written as one (`0.0` is one to JSON Schema's `integer`).
            let whole = v.as_u64().or_else(|| {
                (v.as_f64())
                    .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < n as f64)
                    .map(|x| x as u64)
            });
            let i = whole.filter(|&i| (i as usize) < n).ok_or_else(|| {
                bad(format!(
                    "`{key}` must be a whole number below {n}, found {v}"
                ))
            })? as usize;
            match legal(start, i) {
                true => Ok(i),
                false => Err(bad(format!("`{key}` {i} is not a legal choice now"))),
            }
        };
        let mut head = Vec::with_capacity(self.head_dim);
        let mut say = None;
        for part in &self.parts {
            match part {
                Part::Act { n, mask } => {
                    let i = choice(field("act")?, "act", *n, *mask)?;
                    head.extend((0..*n).map(|j| f32::from(u8::from(j == i))));
                }
                Part::Choices { nvec, mask } => {
                    let values = field("choices")?
                        .as_array()
                        .filter(|a| a.len() == nvec.len())
                        .ok_or_else(|| {
                            bad(format!(
                                "`choices` must be a list of {} numbers",
                                nvec.len()
                            ))
                        })?;
                    for ((v, &n), &m) in values.iter().zip(nvec).zip(mask) {
                        let i = choice(v, "choices", n, m)?;
                        head.extend((0..n).map(|j| f32::from(u8::from(j == i))));
                    }
                }
                Part::Amount { low, high } => {
                    let v = field("amount")?
                        .as_f64()
                        .map(|v| v as f32)
                        .filter(|v| v.is_finite() && *v >= *low && *v <= *high)
                        .ok_or_else(|| {
                            bad(format!("`amount` must be a number from {low} to {high}"))
                        })?;
                    head.push(v);
                }
                Part::Belief { n } => {
                    let weights: Vec<f64> = field("belief")?
                        .as_array()
                        .filter(|a| a.len() == *n)
                        .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<_>>>())
                        .filter(|w| w.iter().all(|x| x.is_finite() && *x >= 0.0))
                        .ok_or_else(|| {
                            bad(format!("`belief` must be a list of {n} weights ≥ 0"))
                        })?;
                    let total: f64 = weights.iter().sum();
                    if total <= 0.0 {
                        return Err(bad("`belief` must not be all zeros".into()));
                    }
                    // Logits whose softmax is the normalised belief.
                    head.extend(weights.iter().map(|w| ((w / total).max(1e-9)).ln() as f32));
                }
                Part::Say { max_chars } => {
                    let text = field("say")?
                        .as_str()
                        .ok_or_else(|| bad("`say` must be a string".into()))?;
                    if text.chars().count() > *max_chars {
                        return Err(bad(format!("`say` must be at most {max_chars} characters")));
                    }
                    say = (!text.is_empty()).then(|| text.to_owned());
                }
            }
        }
        debug_assert_eq!(head.len(), self.head_dim);
        Ok(Answer { head, say })
    }

    /// The default answer under `mask`: each discrete part's first legal choice, each amount's
    /// lower bound, a uniform belief, no text.
    pub fn default_answer(&self, mask: &[u8]) -> Answer {
        let first = |start: usize, n: usize| {
            (0..n)
                .find(|&i| mask.get(start + i).is_none_or(|&m| m != 0))
                .unwrap_or(0)
        };
        let mut head = Vec::with_capacity(self.head_dim);
        for part in &self.parts {
            match part {
                Part::Act { n, mask } => {
                    let i = first(*mask, *n);
                    head.extend((0..*n).map(|j| f32::from(u8::from(j == i))));
                }
                Part::Choices { nvec, mask } => {
                    for (&n, &m) in nvec.iter().zip(mask) {
                        let i = first(m, n);
                        head.extend((0..n).map(|j| f32::from(u8::from(j == i))));
                    }
                }
                Part::Amount { low, .. } => head.push(*low),
                Part::Belief { n } => head.extend(std::iter::repeat_n(0.0, *n)),
                Part::Say { .. } => {}
            }
        }
        Answer { head, say: None }
    }

    /// How to answer, in words, for the prompt: each key and what it takes.
    pub fn instructions(&self, amount: Option<&str>) -> String {
        let mut keys = Vec::new();
        for part in &self.parts {
            keys.push(match part {
                Part::Act { .. } => "\"act\": the number of one legal act".to_owned(),
                Part::Choices { nvec, .. } => {
                    format!("\"choices\": a list of {} act numbers", nvec.len())
                }
                Part::Amount { low, high } => format!(
                    "\"amount\": {}, a number from {low} to {high}",
                    amount.unwrap_or("a number")
                ),
                Part::Belief { n } => {
                    format!("\"belief\": {n} non-negative weights, one per player")
                }
                Part::Say { max_chars } => {
                    format!("\"say\": what you say, at most {max_chars} characters")
                }
            });
        }
        format!(
            "Answer with one JSON object and nothing else, with these keys: {}.",
            keys.join("; ")
        )
    }
}

/// The JSON object in a model's answer `text` (the first `{` to the last `}`: the object may be
/// fenced or have words around it); `what` names the answer in the error. An answer that ends
/// inside its object is said to be cut off: a model stopped by `max_tokens` writes one.
pub(crate) fn json_object(text: &str, what: &str) -> Result<Value, String> {
    let Some(start) = text.find('{') else {
        return Err(format!("the {what} holds no JSON object"));
    };
    let end = (text.rfind('}').filter(|&e| e > start)).map_or(text.len(), |e| e + 1);
    serde_json::from_str(&text[start..end]).map_err(|e| match e.is_eof() {
        true => format!("the {what} ends inside its JSON object, cut off (by `max_tokens`?): {e}"),
        false => format!("the {what} is not valid JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple() -> AnswerFormat {
        AnswerFormat::new(&Space::Tuple(vec![
            Space::Discrete { n: 3 },
            Space::uniform_box(1, 0.0, 1.0),
            Space::Text { max_chars: 10 },
        ]))
        .unwrap()
    }

    #[test]
    fn parses_legal_answers_into_head_rows() {
        let f = tuple();
        let a = f
            .parse(
                "Sure! ```json\n{\"act\": 2, \"amount\": 0.25, \"say\": \"hi\"}\n```",
                &[1, 0, 1],
            )
            .unwrap();
        assert_eq!(a.head, vec![0.0, 0.0, 1.0, 0.25]);
        assert_eq!(a.say.as_deref(), Some("hi"));
        // A whole number written with a point is one (JSON Schema's `integer` takes `2.0`).
        let a = f
            .parse("{\"act\": 2.0, \"amount\": 0, \"say\": \"\"}", &[1, 0, 1])
            .unwrap();
        assert_eq!(a.head, vec![0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn an_answer_cut_off_inside_its_object_says_so() {
        let f = tuple();
        for text in [
            "{\"act\": 1, \"say\": \"I will",
            "```json\n{\"act\": {\"a\": 1}, \"say\": \"x",
        ] {
            let err = f.parse(text, &[1, 1, 1]).unwrap_err().0;
            assert!(err.contains("ends inside its JSON object"), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_legal_answer() {
        let f = tuple();
        let cases = [
            ("no json here", "no JSON object"),
            (
                "{\"act\": 1, \"amount\": 0.5, \"say\": \"\"}",
                "not a legal choice",
            ),
            ("{\"act\": 7, \"amount\": 0.5, \"say\": \"\"}", "below 3"),
            ("{\"act\": 1.5, \"amount\": 0.5, \"say\": \"\"}", "below 3"),
            (
                "{\"act\": 1.0, \"amount\": 0.5, \"say\": \"\"}",
                "not a legal",
            ),
            ("{\"amount\": 0.5, \"say\": \"\"}", "no `act`"),
            ("{\"act\": 0, \"amount\": 2, \"say\": \"\"}", "from 0 to 1"),
            (
                "{\"act\": 0, \"amount\": 0.5, \"say\": \"far too long\"}",
                "at most 10",
            ),
            (
                "{\"act\": 0, \"amount\": 0.5, \"say\": \"x\",}",
                "not valid JSON",
            ),
        ];
        for (text, needle) in cases {
            let err = f.parse(text, &[1, 0, 1]).unwrap_err().0;
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn the_default_is_the_first_legal_act_at_the_lower_bound() {
        let f = tuple();
        assert_eq!(f.default_answer(&[0, 1, 1]).head, vec![0.0, 1.0, 0.0, 0.0]);
        let schema = f.schema(&[0, 1, 1]);
        assert_eq!(schema["properties"]["act"]["enum"], json!([1, 2]));
        assert_eq!(schema["required"], json!(["act", "amount", "say"]));
    }

    #[test]
    fn beliefs_become_logits_of_the_normalised_weights() {
        let f = AnswerFormat::new(&Space::Simplex { n: 2 }).unwrap();
        let a = f.parse("{\"belief\": [1, 3]}", &[]).unwrap();
        let p: Vec<f32> = a.head.iter().map(|l| l.exp()).collect();
        assert!((p[0] - 0.25).abs() < 1e-6 && (p[1] - 0.75).abs() < 1e-6);
    }
}
