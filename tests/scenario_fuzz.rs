//! Fuzz-style test of scenario parsing: mutants of every bundled scenario (each `scenarios/*.toml`,
//! found by reading the directory) never panic `Scenario::parse`, and every refusal names where.
//!
//! The mutants are deterministic (a ChaCha8 stream seeded per scenario file name): truncations at
//! random char boundaries, characters replaced by random ASCII (control characters included),
//! by a flipped bit or by odd characters (NUL, BOM, bidi overrides, astral-plane characters…),
//! two keys swapped, two values swapped, values replaced by huge, negative, non-finite, string,
//! array or inline-table values, and values nested hundreds of levels deep.
//!
//! What "names a position or a key" means (from `crates/socium-scenario/src/error.rs`): parsing
//! text can only fail with `ScenarioError::At(Located { file, line, column, key, message })`
//! (`Read` is for unreadable files and `Override` for `--set`, neither of which `parse` makes),
//! and an error names where when
//! - `file` is the path given to `parse`, and the message is not empty;
//! - the error is shown as `file:line:column: ...`;
//! - and it names a position inside the text, or a key, or both: `1 ≤ line ≤` the text's lines
//!   (counted as `'\n'`-separated pieces, so the empty line after a final newline counts) and
//!   `1 ≤ column ≤` that line's characters + 1 (one past the end points at the end of the
//!   line), or a non-empty `key` (the dotted path, such as `agents[2].params.k`). Syntax errors
//!   (in a comment, say) name only a position; a missing top-level table has no span, and its
//!   error is at 1:1 with no key path but says which ("missing field `agents`").
//!
//! A mutant that parses must take an override (`--set seed=1`, which edits the parsed document)
//! and build its Sim (`scenario.sim()`) without a panic or an error (the Sim's checks repeat the
//! parser's), unless it is too big to build quickly: more than 10,000
//! agents, or more than [`BUILD_BUDGET`] for agents² + agents × (observation + action entries).
//!
//! About 4,200 mutants run in about a second in a debug build. A failed allocation, a stack
//! overflow or a hang cannot be caught: `SOCIUM_FUZZ_TRACE=1 cargo test --test scenario_fuzz --
//! --nocapture` names each mutant before it runs, and each refusal.

use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;
use socium::scenario::{Override, Scenario, ScenarioError};
use std::{
    ops::Range,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    time::Instant,
};

/// The largest agents² + agents × (observation + action entries) of a mutant whose Sim is built.
const BUILD_BUDGET: usize = 4_000_000;

/// Values a value is replaced by: huge, negative, non-finite, strings, arrays, inline tables.
const VALUES: &[&str] = &[
    // Huge (and just past the integer types the schema uses).
    "1e308",
    "-1e308",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "2147483648",
    "65536",
    "1000000",
    "1e400",
    "-1e400",
    "inf",
    "+inf",
    "-inf",
    "nan",
    "+nan",
    "-nan",
    "5e-324",
    // Negative and zero.
    "-1",
    "-0.5",
    "-0.0",
    "0",
    "0.0",
    "1.5",
    // Strings.
    "\"\"",
    "\"x\"",
    "\"tft\"",
    "\"external\"",
    "'\u{1F980}\u{202E}'",
    "\"\\u0000\"",
    "\"../../../../etc/passwd\"",
    // Arrays.
    "[]",
    "[1, 2]",
    "[\"a\", 1]",
    "[[1], [2]]",
    "[0, 1, 0, 1, 0, 1, 0, 1]",
    // Inline tables and others.
    "{}",
    "{ a = 1 }",
    "{ k = 0 }",
    "{ min_max = { window = 1 } }",
    "true",
    "1979-05-27T07:32:00Z",
];

/// Characters that are valid UTF-8 but unusual in a TOML file.
const ODD: &[char] = &[
    '\0',
    '\u{7f}',
    '\u{85}',
    '\u{a0}',
    '\u{feff}',
    '\u{202e}',
    '\u{2028}',
    '\u{fffd}',
    'é',
    '日',
    '\u{1F980}',
    '\r',
    '\t',
    '"',
    '\'',
    '\\',
    '[',
    ']',
    '{',
    '}',
    '=',
    '#',
    ',',
    '.',
];

/// Depths of the deeply nested values.
const DEPTHS: &[usize] = &[50, 100, 300, 1000];

/// A `key = value` on a line, or inside an inline table: byte ranges into the text.
#[derive(Clone, Debug)]
struct Slot {
    key: Range<usize>,
    value: Range<usize>,
}

/// The `key = value` slots of `text`: each line's, and those of one-level inline tables.
fn slots(text: &str) -> Vec<Slot> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if let Some(slot) = key_value(body, start) {
            let inner = &text[slot.value.clone()];
            if inner.starts_with('{') && inner.ends_with('}') && inner.len() >= 2 {
                let mut at = slot.value.start + 1;
                for piece in inner[1..inner.len() - 1].split(',') {
                    out.extend(key_value(piece, at));
                    at += piece.len() + 1;
                }
            }
            out.push(slot);
        }
        start += line.len();
    }
    out
}

/// `key = value` in `piece` (which starts at byte `offset` of the text), if it is one.
fn key_value(piece: &str, offset: usize) -> Option<Slot> {
    let trimmed = piece.trim_start();
    if trimmed.starts_with(['#', '[']) {
        return None;
    }
    let (key, value) = piece.split_once('=')?;
    let key_start = offset + (key.len() - key.trim_start().len());
    let key_end = offset + key.trim_end().len();
    let value_start = offset + key.len() + 1 + (value.len() - value.trim_start().len());
    let value_end = offset + key.len() + 1 + value.trim_end().len();
    let name = key.trim();
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (plain && value_start < value_end).then_some(Slot {
        key: key_start..key_end,
        value: value_start..value_end,
    })
}

/// `text` with the (disjoint) ranges replaced.
fn replaced(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = text.to_owned();
    for (range, with) in edits {
        out.replace_range(range, &with);
    }
    out
}

fn overlap(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// A random char boundary of `text` in `0..=len`.
fn boundary(rng: &mut ChaCha8Rng, text: &str) -> usize {
    let mut i = rng.random_range(0..=text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One character changed: random ASCII, a flipped bit of an ASCII character, or an odd character.
fn flip(rng: &mut ChaCha8Rng, text: &str) -> String {
    let mut at = boundary(rng, text);
    if at == text.len() {
        at = 0;
    }
    let old = text[at..].chars().next().unwrap_or(' ');
    let new = match rng.random_range(0..10) {
        0..=4 => char::from(rng.random_range(0u8..0x80)),
        5..=7 if old.is_ascii() => char::from((old as u8) ^ (1 << rng.random_range(0..7))),
        _ => *ODD.choose(rng).expect("not empty"),
    };
    replaced(text, vec![(at..at + old.len_utf8(), new.to_string())])
}

/// A value `depth` levels deep: nested arrays or nested inline tables.
fn nested(depth: usize, tables: bool) -> String {
    match tables {
        false => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
        true => format!("{}1{}", "{a=".repeat(depth), "}".repeat(depth)),
    }
}

/// The mutants of one scenario, each with what it is.
fn mutants(name: &str, text: &str) -> Vec<(String, String)> {
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let slots = slots(text);
    assert!(slots.len() >= 2, "{name}: too few `key = value` slots");
    let mut out = Vec::new();
    for _ in 0..40 {
        let at = boundary(&mut rng, text);
        out.push((format!("truncated at byte {at}"), text[..at].to_owned()));
    }
    for _ in 0..40 {
        let mut t = text.to_owned();
        let edits = rng.random_range(1..=3);
        for _ in 0..edits {
            t = flip(&mut rng, &t);
        }
        out.push((format!("{edits} characters changed"), t));
    }
    let pick_two = |rng: &mut ChaCha8Rng, part: fn(&Slot) -> Range<usize>| loop {
        let (a, b) = (
            part(slots.choose(rng).unwrap()),
            part(slots.choose(rng).unwrap()),
        );
        if !overlap(&a, &b) {
            break (a, b);
        }
    };
    for _ in 0..20 {
        let (a, b) = pick_two(&mut rng, |s| s.key.clone());
        let edits = vec![(a.clone(), text[b.clone()].into()), (b, text[a].into())];
        out.push(("two keys swapped".into(), replaced(text, edits)));
    }
    for _ in 0..20 {
        let (a, b) = pick_two(&mut rng, |s| s.value.clone());
        let edits = vec![(a.clone(), text[b.clone()].into()), (b, text[a].into())];
        out.push(("two values swapped".into(), replaced(text, edits)));
    }
    for value in VALUES {
        for _ in 0..4 {
            let slot = slots.choose(&mut rng).unwrap();
            let key = &text[slot.key.clone()];
            let t = replaced(text, vec![(slot.value.clone(), (*value).into())]);
            out.push((format!("`{key}` = {value}"), t));
        }
    }
    for &depth in DEPTHS {
        for tables in [false, true] {
            let slot = slots.choose(&mut rng).unwrap();
            let key = &text[slot.key.clone()];
            let t = replaced(text, vec![(slot.value.clone(), nested(depth, tables))]);
            let kind = if tables { "inline tables" } else { "arrays" };
            out.push((format!("`{key}` = {kind} {depth} deep"), t));
        }
    }
    out
}

/// Why `err` does not name a position or key in `text` (see the module docs), if it does not.
fn unnamed(err: &ScenarioError, text: &str, file: &Path) -> Option<String> {
    let Some(at) = err.location() else {
        return Some(format!("an error without a position: {err}"));
    };
    if at.file != file {
        return Some(format!("names file {}", at.file.display()));
    }
    if at.message.is_empty() {
        return Some("an empty message".into());
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let position = at.line >= 1
        && at.line <= lines.len()
        && at.column >= 1
        && at.column <= lines[at.line - 1].chars().count() + 1;
    if !position && at.key.is_empty() {
        return Some(format!(
            "line {} column {} is outside the text ({} lines) and no key is named",
            at.line,
            at.column,
            lines.len()
        ));
    }
    let shown = err.to_string();
    if !shown.starts_with(&format!("{}:{}:{}: ", file.display(), at.line, at.column)) {
        return Some(format!("shown without its position: {shown}"));
    }
    None
}

/// The cost of building a parsed scenario's Sim, roughly in entries allocated.
fn build_cost(s: &Scenario) -> usize {
    let n = s.config.agents.len();
    let entries = s.game.observation_space(n).flat_dim() + s.game.action_space(n).flat_dim();
    n.saturating_mul(n)
        .saturating_add(n.saturating_mul(entries))
}

/// The text around the first difference of `a` from `b`, for failure messages.
fn around_change(mutant: &str, original: &str) -> String {
    let first = mutant
        .char_indices()
        .zip(original.chars())
        .find(|((_, a), b)| a != b)
        .map_or(mutant.len().min(original.len()), |((i, _), _)| i);
    let mut start = first.saturating_sub(40);
    while !mutant.is_char_boundary(start) {
        start -= 1;
    }
    format!(
        "{:?}",
        mutant[start..].chars().take(100).collect::<String>()
    )
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".into())
}

#[test]
fn mutated_scenarios_never_panic_and_errors_name_where() {
    let started = Instant::now();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "bundled scenarios: {files:?}");

    // An abort (a stack overflow, a failed allocation) cannot be caught: SOCIUM_FUZZ_TRACE=1
    // names each mutant before it runs.
    let trace = std::env::var_os("SOCIUM_FUZZ_TRACE").is_some();
    let mut failures = Vec::new();
    let (mut total, mut refused, mut keyed, mut built, mut too_big) = (0, 0, 0, 0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).unwrap();
        Scenario::parse(&text, file).unwrap_or_else(|e| panic!("{name} itself: {e}"));
        for (what, mutant) in mutants(&name, &text) {
            total += 1;
            if trace {
                eprintln!("{name}: {what}");
            }
            let mut fail = |why: String| {
                let near = around_change(&mutant, &text);
                failures.push(format!("{name}: {what}: {why}\n    near {near}"));
            };
            let parsed = catch_unwind(AssertUnwindSafe(|| Scenario::parse(&mutant, file)));
            let scenario = match parsed {
                Err(p) => {
                    fail(format!("parse panicked: {}", panic_message(&*p)));
                    continue;
                }
                Ok(Err(e)) => {
                    if trace {
                        eprintln!("    {e}");
                    }
                    refused += 1;
                    keyed += usize::from(e.location().is_some_and(|l| !l.key.is_empty()));
                    if let Some(why) = unnamed(&e, &mutant, file) {
                        fail(why);
                    }
                    continue;
                }
                Ok(Ok(s)) => s,
            };
            // `--set` edits the parsed document: whatever parses takes an override.
            let seed: Override = "seed=1".parse().unwrap();
            let overridden = catch_unwind(AssertUnwindSafe(|| {
                Scenario::parse_with_overrides(&mutant, file, std::slice::from_ref(&seed))
            }));
            match overridden {
                Err(p) => fail(format!("--set seed=1 panicked: {}", panic_message(&*p))),
                Ok(Err(e)) => fail(format!("parsed, but --set seed=1 refused it: {e}")),
                Ok(Ok(_)) => {}
            }
            if scenario.config.agents.len() > 10_000 || build_cost(&scenario) > BUILD_BUDGET {
                too_big += 1;
                continue;
            }
            match catch_unwind(AssertUnwindSafe(|| scenario.sim().map(|_| ()))) {
                Err(p) => fail(format!("sim() panicked: {}", panic_message(&*p))),
                Ok(Err(e)) => fail(format!("parsed, but sim() refused it: {e}")),
                Ok(Ok(())) => built += 1,
            }
        }
    }
    eprintln!(
        "{total} mutants of {} scenarios: {refused} refused ({keyed} naming a key), {built} \
         built, {too_big} too big to build; {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn slots_find_keys_and_inline_values() {
    let text = "[a]\nx = 1\n# y = 2\nparams = { k = 0, m = 1.5 }\n[[b]]\n";
    let found: Vec<(&str, &str)> = slots(text)
        .iter()
        .map(|s| (&text[s.key.clone()], &text[s.value.clone()]))
        .collect();
    assert_eq!(
        found,
        [
            ("x", "1"),
            ("k", "0"),
            ("m", "1.5"),
            ("params", "{ k = 0, m = 1.5 }")
        ]
    );
}
