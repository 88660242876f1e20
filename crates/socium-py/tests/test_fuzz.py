"""Mutated bundled scenarios through the Python constructors: `socium.parallel_env(path)` and
`socium.VecEnv(path, 2)` either build or raise `socium.ScenarioError` (its subclass
`NoExternalAgentsError` included) whose message names where: never a panic
(`pyo3_runtime.PanicException`), a SystemError or any other exception.

The mutants are the kinds `tests/scenario_fuzz.rs` makes in Rust (which makes hundreds per
scenario), a few per scenario here, seeded: truncations, changed characters, swapped keys and
values, huge, negative, non-finite, string, array and inline-table values, deep nesting."""

import random
import re

import pytest

import socium
from conftest import ROOT, SCENARIOS

VALUES = [
    "1e308",
    "-1e308",
    "9223372036854775807",
    "18446744073709551616",
    "4294967295",
    "1e400",
    "inf",
    "-inf",
    "nan",
    "5e-324",
    "-1",
    "-0.5",
    '""',
    '"x"',
    "'\U0001f980\u202e'",
    "[1, 2]",
    "[[1], [2]]",
    "{}",
    "{ a = 1 }",
    "[" * 300 + "1" + "]" * 300,
    "{a=" * 300 + "1" + "}" * 300,
]
ODD = ["\0", "\x7f", "\ufeff", "\u202e", "\u2028", "\U0001f980", "\r", '"', "[", "=", "#"]
MUTANTS_PER_SCENARIO = 8

# `file:line:column: ` (the position), then optionally `` `key`: ``.
POSITION = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): ")


def slots(text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (key, value) character ranges of each `key = value` line."""
    found, start = [], 0
    for line in text.splitlines(keepends=True):
        m = re.match(r"^(\s*)([A-Za-z0-9_-]+)(\s*=\s*)(.*?)\s*$", line)
        if m and m.group(4):
            key = (start + m.start(2), start + m.end(2))
            found.append((key, (start + m.start(4), start + m.start(4) + len(m.group(4)))))
        start += len(line)
    return found


def replaced(text: str, edits: list[tuple[tuple[int, int], str]]) -> str:
    for (a, b), value in sorted(edits, reverse=True):
        text = text[:a] + value + text[b:]
    return text


def mutants(name: str, text: str):
    rng = random.Random(f"socium fuzz {name}")
    kv = slots(text)
    kinds = ["truncate", "change", "swap keys", "swap values", "value", "value", "value", "value"]
    for i in range(MUTANTS_PER_SCENARIO):
        kind = kinds[i % len(kinds)]
        if kind == "truncate":
            at = rng.randrange(len(text))
            yield f"truncated at character {at}", text[:at]
        elif kind == "change":
            edits = []
            for at in sorted(rng.sample(range(len(text)), 3)):
                new = chr(rng.randrange(0x80)) if rng.random() < 0.6 else rng.choice(ODD)
                edits.append(((at, at + 1), new))
            yield "3 characters changed", replaced(text, edits)
        elif kind.startswith("swap"):
            part = 0 if kind == "swap keys" else 1
            (a, b) = rng.sample([s[part] for s in kv], 2)
            yield kind, replaced(text, [(a, text[b[0] : b[1]]), (b, text[a[0] : a[1]])])
        else:
            key, value = rng.choice(kv)
            new = rng.choice(VALUES)
            yield f"`{text[key[0] : key[1]]}` = {new[:20]}", replaced(text, [(value, new)])


def cases() -> list:
    return [
        pytest.param(path.name, mutant, id=f"{path.stem}: {what}")
        for path in SCENARIOS
        for what, mutant in mutants(path.name, path.read_text())
    ]


def check_refusal(error: BaseException, path, text: str):
    """`error` is a documented refusal naming a position inside the text or a key."""
    assert isinstance(error, socium.ScenarioError), f"{type(error).__name__}: {error}"
    message = str(error)
    if isinstance(error, socium.NoExternalAgentsError):
        assert message.startswith(f"{path}: ") and 'controller = "external"' in message
        return
    m = POSITION.match(message)
    assert m and m["file"] == str(path), message
    lines = text.split("\n")
    line, column = int(m["line"]), int(m["column"])
    in_text = 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1
    key = re.match(r"`([^`]+)`: ", message[m.end() :])
    assert in_text or key, f"names no position in the text and no key: {message}"


@pytest.mark.parametrize("name,text", cases())
def test_mutated_scenarios_build_or_raise_scenario_errors(tmp_path, name, text):
    # Policies' relative paths (../assets/...) resolve as they do for the bundled files.
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    (tmp_path / "scenarios").mkdir()
    path = tmp_path / "scenarios" / name
    path.write_text(text, encoding="utf-8")
    for build in (lambda: socium.parallel_env(path), lambda: socium.VecEnv(path, 2)):
        try:
            build()
        except BaseException as error:  # PanicException derives from BaseException
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
            check_refusal(error, path, text)
