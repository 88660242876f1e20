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
