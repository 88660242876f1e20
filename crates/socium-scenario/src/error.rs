//! Scenario errors that say where: file, line, column and the dotted key.

use std::{fmt, ops::Range, path::PathBuf};

/// A scenario refused, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read the scenario: {error}", file.display())]
    Read {
        /// The scenario file.
        file: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A value, key or table is wrong.
    #[error("{0}")]
    At(Located),
    /// The file is valid, but not with the overrides applied (`--set`, or Python's `overrides` and
    /// keywords).
    #[error("{}: with {set}: {message}", file.display())]
    Override {
        /// The scenario file.
        file: PathBuf,
        /// The overrides as given, named: `the override k=v`, `the overrides k=v k2=v2`.
        set: String,
        /// What is wrong, with the key.
        message: String,
    },
}

/// An error at a position of the scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Dotted path of the key, e.g. `game.repeated.noise` or `agents[2].params.k`.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)
    }
}

impl ScenarioError {
    /// An error at byte range `span` of `source`.
    pub(crate) fn at(
        file: &std::path::Path,
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = line_column(source, span.start);
        ScenarioError::At(Located {
            file: file.to_owned(),
            line,
            column,
            key: key_path(source, span.start),
            message: message.into(),
        })
    }

    /// The position, for errors that have one.
    pub fn location(&self) -> Option<&Located> {
        match self {
            ScenarioError::At(l) => Some(l),
            ScenarioError::Read { .. } | ScenarioError::Override { .. } => None,
        }
    }
}

/// A deserializer's message in a scenario author's words: serde names Rust types (`expected
/// u32`, `expected struct AgentGroup`, `invalid type: unit variant, expected struct variant`);
/// this says what to write instead (`expected a whole number from 0 to 4294967295, found string
/// "many"`). Any other message is kept as it is.
pub(crate) fn in_plain_words(message: &str) -> String {
    let Some((unexpected, expected)) = (message.strip_prefix("invalid type: "))
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "))
    else {
        return message.to_owned();
    };
    let expected = match expected {
        "u8" => "a whole number from 0 to 255".to_owned(),
        "u16" => "a whole number from 0 to 65535".to_owned(),
        "u32" => "a whole number from 0 to 4294967295".to_owned(),
        "u64" | "usize" => "a whole number ≥ 0".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "struct variant" => {
            "this choice with its settings, a table `{ name = { key = value } }`".to_owned()
        }
        e if e.starts_with("struct ") || e.starts_with("map") => "a table".to_owned(),
        e => e.to_owned(),
    };
    let unexpected = match unexpected {
        "unit variant" => "a name alone",
        u => u,
    };
    format!("expected {expected}, found {unexpected}")
}

pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, source[start..offset].chars().count() + 1)
}

/// The dotted key path of the value or key at `offset`: the enclosing `[table]` (with the index of
/// an `[[array]]` entry) followed by the keys of the line, inline tables included.
fn key_path(source: &str, offset: usize) -> String {
    let offset = offset.min(source.len());
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line = &source[line_start..line_end];
    let header = |l: &str| {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            Some((name.trim().to_owned(), true))
        } else {
            l.strip_prefix('[')
                .and_then(|l| l.split(']').next())
                .map(|n| (n.trim().to_owned(), false))
        }
    };
    // The table the line belongs to (or the header on this line).
    let mut table = String::new();
    let mut lines_before = source[..line_start].lines().rev();
    let this = header(line);
    if let Some((name, array)) = this.clone().or_else(|| lines_before.find_map(header)) {
        table = name.clone();
        // Entries of the array of tables `name` up to this line.
        let entries = |name: &str| {
            source[..line_end]
                .lines()
                .filter(|l| header(l).is_some_and(|(n, a)| a && n == name))
                .count()
        };
        if array {
            table = format!("{name}[{}]", entries(&name).saturating_sub(1));
        } else {
            // A table inside the latest entry of an array (`[agents.params]`): that entry's index.
            let parts: Vec<&str> = name.split('.').collect();
            if let Some((k, count)) = (1..parts.len())
                .rev()
                .map(|k| (k, entries(&parts[..k].join("."))))
                .find(|&(_, count)| count > 0)
            {
                let (array, rest) = (parts[..k].join("."), parts[k..].join("."));
                table = format!("{array}[{}].{rest}", count - 1);
            }
        }
    }
    if this.is_some() {
        return table;
    }
    // Keys on the line up to the offset, through inline tables: `params = { k = 9 }` -> params.k.
    let upto = &line[..offset - line_start];
    let mut open: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    let mut word = String::new();
    for c in upto.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => word.push(c),
            '=' => {
                last = Some(std::mem::take(&mut word));
            }
            '{' => {
                open.extend(last.take());
                word.clear();
            }
            '}' => {
                open.pop();
                last = None;
                word.clear();
            }
            ',' => {
                last = None;
                word.clear();
            }
            _ => {
                if !word.is_empty() && last.is_none() && c != ' ' && c != '\t' {
                    word.clear();
                }
            }
        }
    }
    // At a key (an unknown-key error points at the key itself): the word that starts here.
    let at_key: String = line[offset - line_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let key = last.or_else(|| (!at_key.is_empty()).then_some(at_key));
    let parts = std::iter::once(table)
        .chain(open)
        .chain(key)
        .filter(|s| !s.is_empty());
    parts.collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serdes_type_names_become_what_to_write() {
        let plain = |m: &str| in_plain_words(m);
        assert_eq!(
            plain("invalid type: string \"many\", expected u32"),
            "expected a whole number from 0 to 4294967295, found string \"many\""
        );
        assert_eq!(
            plain("invalid value: integer `-3`, expected u64"),
            "expected a whole number ≥ 0, found integer `-3`"
        );
        assert_eq!(
            plain("invalid type: string \"x\", expected f64"),
            "expected a number, found string \"x\""
        );
        assert_eq!(
            plain("invalid type: integer `3`, expected struct AgentGroup"),
            "expected a table, found integer `3`"
        );
        assert_eq!(
            plain("invalid type: unit variant, expected struct variant"),
            "expected this choice with its settings, a table `{ name = { key = value } }`, found \
             a name alone"
        );
        // Anything else is kept.
        let unknown = "unknown field `turnz`, expected one of `turns`";
        assert_eq!(plain(unknown), unknown);
        assert_eq!(
            plain("invalid type: string \"a\", expected a boolean"),
            "expected a boolean, found string \"a\""
        );
    }

    fn path_at(source: &str, needle: &str) -> String {
        key_path(source, source.find(needle).unwrap())
    }

    #[test]
    fn key_paths() {
        let s = "[scenario]\nname = \"x\"\n[game.repeated]\nnoise = 2\n[[agents]]\ncount = 1\n\
                 [[agents]]\nstrategy = \"gtft\"\nparams = { generosity = 1.5, p = 3 }\n";
        assert_eq!(path_at(s, "2\n"), "game.repeated.noise");
        assert_eq!(path_at(s, "noise"), "game.repeated.noise");
        assert_eq!(path_at(s, "1.5"), "agents[1].params.generosity");
        assert_eq!(path_at(s, "3 }"), "agents[1].params.p");
        assert_eq!(path_at(s, "1\n"), "agents[0].count");
        assert_eq!(path_at(s, "[game"), "game.repeated");
        assert_eq!(line_column(s, s.find("1.5").unwrap()), (9, 25));
    }

    #[test]
    fn a_table_inside_an_array_entry_names_the_entry() {
        let s = "[[agents]]
count = 1
[[agents]]
strategy = \"gtft\"
                 [agents.params]
generosity = 1.5
[[agents]]
[agents.params]
k = 2
";
        assert_eq!(path_at(s, "1.5"), "agents[1].params.generosity");
        assert_eq!(path_at(s, "2\n"), "agents[2].params.k");
        assert_eq!(path_at(s, "[agents.params]"), "agents[1].params");
    }
}
