//! `--set KEY=VALUE` overrides: change a scenario's values without editing its file, validated
//! exactly like the file (the same checks run on the overridden document).

use crate::{Scenario, ScenarioError};
use std::path::Path;

/// One override: a dotted key (`game.repeated.noise`, `agents[1].count`) and a TOML value. A key
/// without a dot or index is short for a key of the game's table (`noise` is
/// `game.repeated.noise` in a repeated game), except `seed`, `episodes` and `max_steps`, which
/// are `[scenario]` keys, and `graph`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The key path as written.
    pub key: String,
    /// The value as written.
    pub text: String,
    value: toml::Value,
}

impl std::str::FromStr for Override {
    type Err = String;

    /// Parses `KEY=VALUE`. The value is TOML (`3`, `0.5`, `true`, `"tft"`, `[1, 0]`,
    /// `{ k = 4 }`); a value that is not TOML is taken as a string, so `norm=l3` works unquoted.
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, text) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected KEY=VALUE, e.g. game.repeated.noise=0.1"))?;
        let (key, text) = (key.trim(), text.trim());
        if path(key).is_none() {
            return Err(format!(
                "`{key}`: expected a dotted key such as game.repeated.noise or agents[1].count"
            ));
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {text}"))
            .ok()
            .and_then(|mut t| t.remove("v"));
        // A whole number TOML cannot hold would otherwise arrive as a string (`007`, which TOML
        // refuses for its leading zeros, still does: a label, say).
        if value.is_none()
            && let Ok(n) = text.parse::<i128>()
            && i64::try_from(n).is_err()
        {
            return Err(format!(
                "`{key}`: {text} is beyond TOML's integers ({} to {})",
                i64::MIN,
                i64::MAX
            ));
        }
        let value = value.unwrap_or_else(|| toml::Value::String(text.to_owned()));
        Ok(Override {
            key: key.to_owned(),
            text: text.to_owned(),
            value,
        })
    }
}

impl Override {
    /// An override of `key` with `value` (a `[[timeline]]` entry's `set`), the key checked as
    /// `--set` checks it.
    pub fn new(key: &str, value: toml::Value) -> Result<Override, String> {
        if path(key).is_none() {
            return Err(format!(
                "`{key}`: expected a dotted key such as game.repeated.noise or agents[1].count"
            ));
        }
        Ok(Override {
            key: key.to_owned(),
            text: value.to_string(),
            value,
        })
    }
}

/// A key path segment: a table key, or an index into an array of tables.
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// `a.b[2].c` as segments; `None` if malformed.
fn path(key: &str) -> Option<Vec<Segment<'_>>> {
    let mut segments = Vec::new();
    for part in key.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return None;
        }
        segments.push(Segment::Key(name));
        if !rest.is_empty() {
            let index = rest.strip_suffix(']')?.parse().ok()?;
            segments.push(Segment::Index(index));
        }
    }
    Some(segments)
}

impl Override {
    /// The full key path, short keys resolved for `game`.
    pub(crate) fn full_key(&self, game: &str) -> String {
        match self.key.as_str() {
            k if k.contains(['.', '[']) || k == "graph" => k.to_owned(),
            k @ ("seed" | "episodes" | "max_steps") => format!("scenario.{k}"),
            k => format!("game.{game}.{k}"),
        }
    }

    /// Sets the value at `key` (this override's, resolved) in `doc`, creating missing tables.
    fn apply(&self, key: &str, doc: &mut toml::Table) -> Result<(), String> {
        let segments = path(key).expect("checked when parsed");
        let mut here = doc;
        let mut i = 0;
        loop {
            let Segment::Key(name) = segments[i] else {
                unreachable!("every part starts with a key")
            };
            let index = match segments.get(i + 1) {
                Some(Segment::Index(k)) => Some(*k),
                _ => None,
            };
            i += 1 + index.is_some() as usize;
            let last = i == segments.len();
            if last && index.is_none() {
                here.insert(name.to_owned(), self.value.clone());
                return Ok(());
            }
            let mut slot = here
                .entry(name.to_owned())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            if let Some(k) = index {
                let toml::Value::Array(items) = slot else {
                    return Err(format!("`{}`: `{name}` is not a list", self.key));
                };
                let len = items.len();
                slot = items.get_mut(k).ok_or_else(|| {
                    format!("`{}`: `{name}` has {len} entries, no [{k}]", self.key)
                })?;
            }
            if last {
                *slot = self.value.clone();
                return Ok(());
            }
            here = slot
                .as_table_mut()
                .ok_or_else(|| format!("`{}`: `{name}` holds a value, not a table", self.key))?;
        }
    }
}

impl Scenario {
    /// Validates scenario text, then the same text with `overrides` applied in order. Errors in
    /// the file point into the file; errors the overrides cause name them.
    pub fn parse_with_overrides(
        source: &str,
        file: &Path,
        overrides: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        let scenario = Scenario::parse(source, file)?;
        if overrides.is_empty() {
            return Ok(scenario);
        }
        let listed: Vec<String> = (overrides.iter())
            .map(|o| format!("{}={}", o.key, o.text))
            .collect();
        let set = match &listed[..] {
            [one] => format!("the override {one}"),
            _ => format!("the overrides {}", listed.join(" ")),
        };
        let refuse = |message: String| ScenarioError::Override {
            file: file.to_owned(),
            set: set.clone(),
            message,
        };
        let mut doc: toml::Table = toml::from_str(source).expect("the file parsed above");
        for o in overrides {
            o.apply(&o.full_key(scenario.game.name()), &mut doc)
                .map_err(refuse)?;
        }
        let text = toml::to_string(&doc).expect("a TOML table serialises");
        let mut overridden = Scenario::parse(&text, file).map_err(|e| match e {
            ScenarioError::At(at) if at.key.is_empty() => refuse(at.message),
            ScenarioError::At(at) => refuse(format!("`{}`: {}", at.key, at.message)),
            other => other,
        })?;
        // The timeline's entries are the file's (an override sets no entry): they keep their
        // places in the file, not in the text with the overrides applied.
        for (change, in_file) in overridden.timeline.iter_mut().zip(&scenario.timeline) {
            change.line_column = in_file.line_column;
        }
        Ok(overridden)
    }

    /// Reads a scenario file and applies `overrides` (see [`Scenario::parse_with_overrides`]).
    pub fn load_with_overrides(
        file: &Path,
        overrides: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        let source = std::fs::read_to_string(file).map_err(|error| ScenarioError::Read {
            file: file.to_owned(),
            error,
        })?;
        Scenario::parse_with_overrides(&source, file, overrides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[scenario]\nname = \"x\"\n[game.repeated]\nturns = 10\n\
                        [[agents]]\nstrategy = \"tft\"\n[[agents]]\nstrategy = \"alld\"\n";

    fn with(sets: &[&str]) -> Result<Scenario, ScenarioError> {
        let overrides: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
        Scenario::parse_with_overrides(BASE, Path::new("base.toml"), &overrides)
    }

    #[test]
    fn overrides_change_values_and_add_keys() {
        let s = with(&["seed=42", "agents[1].strategy=wsls", "agents[0].count=3"]).unwrap();
        assert_eq!(s.config.seed, 42);
        let labels: Vec<&str> = s.config.agents.iter().map(|a| &*a.label).collect();
        assert_eq!(labels, ["tft", "tft", "tft", "wsls"]);
        let s = with(&[
            "agents[0].count=3",
            "graph.ring_lattice.k=2",
            "rewards.payoff.weight=0.5",
        ])
        .unwrap();
        assert_eq!(s.config.rewards[0].weight, 0.5);
        assert_eq!(s.config.graph, socium_core::GraphSpec::RingLattice { k: 2 });
    }

    /// A whole number beyond TOML's integers is refused where it is written, in the file or in
    /// `--set` (a file's had made `--set` panic; a `--set` one arrived as a string).
    #[test]
    fn integers_beyond_tomls_are_refused_in_the_file_and_in_overrides() {
        let big = BASE.replace("name = \"x\"", "name = \"x\"\nseed = 18446744073709551615");
        let err = Scenario::parse_with_overrides(&big, Path::new("base.toml"), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "base.toml:3:8: `scenario.seed`: u64 value was too large: TOML's integers are at most \
             9223372036854775807"
        );
        let err = "seed=18446744073709551615".parse::<Override>().unwrap_err();
        assert_eq!(
            err,
            "`seed`: 18446744073709551615 is beyond TOML's integers (-9223372036854775808 to \
             9223372036854775807)"
        );
        assert!("seed=-9223372036854775809".parse::<Override>().is_err());
        // Not a TOML integer for another reason: a string, as before.
        let label = with(&["agents[0].label=007"]).unwrap();
        assert_eq!(label.config.agents[0].label.as_ref(), "007");
        assert_eq!(
            with(&["seed=9223372036854775807"]).unwrap().config.seed,
            i64::MAX as u64
        );
    }

    /// A scenario with two game tables (or none) is told it needs one, and which it has.
    #[test]
    fn a_game_table_too_many_or_none_is_named() {
        let err = with(&["game.x.y=1"]).unwrap_err().to_string();
        assert!(
            err.ends_with("`game`: expected one game table, found 2: [game.repeated], [game.x]"),
            "{err}"
        );
        let none = BASE.replace("[game.repeated]\nturns = 10\n", "[game]\n");
        let err = Scenario::parse(&none, Path::new("base.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("base.toml:3:1: `game`: expected one game table [game.<name>], found none; the games: donor_cultural,"),
            "{err}"
        );
    }

    #[test]
    fn overridden_values_are_validated_like_the_file() {
        let err = with(&["game.repeated.noise=2"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "base.toml: with the override game.repeated.noise=2: `game.repeated.noise`: expected a \
             probability in [0, 1], found 2"
        );
        // The shorthand names the game's own key: its value is checked there.
        let err = with(&["noise=2"]).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("`game.repeated.noise`: expected a probability in [0, 1], found 2"),
            "{err}"
        );
        assert!(with(&["noise=0.25"]).is_ok());
        let err = with(&["nois=0.1"]).unwrap_err();
        assert!(err.to_string().contains("unknown field `nois`"), "{err}");
        let err = with(&["agents[5].count=2"]).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("`agents[5].count`: `agents` has 2 entries, no [5]"),
            "{err}"
        );
        let err = with(&["game.repeated.turns.x=1"]).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("`turns` holds a value, not a table"),
            "{err}"
        );
        assert!("noequals".parse::<Override>().is_err());
        assert!("a..b=1".parse::<Override>().is_err());
        // A strategy's parameter names its agent entry.
        let err = with(&["agents[1].params.k=1"]).unwrap_err();
        assert!(err.to_string().contains("`agents[1].params.k`"), "{err}");
    }

    #[test]
    fn errors_in_the_file_point_into_the_file() {
        let bad = BASE.replace("turns = 10", "turns = 0");
        let o: Override = "game.repeated.turns=5".parse().unwrap();
        let err = Scenario::parse_with_overrides(&bad, Path::new("bad.toml"), &[o]).unwrap_err();
        assert_eq!(err.location().unwrap().line, 4);
    }
}
