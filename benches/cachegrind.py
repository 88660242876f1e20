"""What benches/footprint.py and benches/instructions.py share: a `socium` binary built for
valgrind's cachegrind, a run of it under cachegrind, and the counts of that run's output file.

The binary is a release build into target/cachegrind, with line tables (so counts can be put on
source lines) and v0 symbol mangling (so that each bevy system's function names the system it
runs: `FunctionSystem<..., socium_games::donor::indirect::resolve>`). Neither changes the code
the compiler emits. The first build takes a few minutes.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target/cachegrind"
VALGRIND = re.compile(r"^(==|--)\d+(==|--)")


def require_valgrind(tool: str):
    if shutil.which("valgrind") is None:
        sys.exit(f"{tool}: valgrind is not installed (Debian: apt-get install valgrind)")


def build() -> Path:
    """The `socium` binary for cachegrind (see the module's doc), built if out of date."""
    env = dict(
        os.environ,
        CARGO_PROFILE_RELEASE_DEBUG="line-tables-only",
        RUSTFLAGS="-C symbol-mangling-version=v0",
    )
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "socium-cli", "--target-dir", str(TARGET)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return TARGET / "release/socium"


def run(binary: Path, args, out: Path, cache=None) -> str:
    """Runs `binary args` under cachegrind into `out` and returns what it printed; `cache` is
    `(first level, last level)` in bytes (64-byte lines; 8-way and 16-way) to simulate, or None
    to count instructions alone."""
    sim = ["--cache-sim=no"]
    if cache is not None:
        first, last = cache
        sim = ["--cache-sim=yes", f"--D1={first},8,64", f"--LL={last},16,64"]
    command = [str(binary), *map(str, args)]
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", *sim, f"--cachegrind-out-file={out}", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        # valgrind's own lines start with `==pid==` or `--pid--`; the rest is what socium said.
        said = "\n".join(l for l in done.stderr.splitlines() if not VALGRIND.match(l))
        sys.exit(f"`{' '.join(command[1:])}` failed under valgrind:\n{said}")
    return done.stdout


def counts(out: Path, events, by: str) -> collections.Counter:
    """The sum of `events` (cachegrind's names: `Ir`, `DLmr`, ...) in `out`, by source line
    (`by="line"`: keys `(file, line)`) or by function (`by="function"`: keys are names)."""
    totals, names, file, function = collections.Counter(), None, None, None
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
            columns = [names.index(e) for e in events]
        elif line.startswith("fl="):
            file = line[3:]
        elif line.startswith("fn="):
            function = line[3:]
        elif line[:1].isdigit():
            fields = line.split()
            values = [int(v) for v in fields[1:]] + [0] * (len(names) - len(fields) + 1)
            key = (file, int(fields[0])) if by == "line" else function
            totals[key] += sum(values[c] for c in columns)
    return totals


def difference(short: collections.Counter, long: collections.Counter, units: float) -> dict:
    """Each key's count in `long` less that in `short`, per unit: what the units between the two
    runs cost, with set-up and warm-up cancelled out."""
    return {k: (long[k] - short.get(k, 0)) / units for k in long}


# A `socium_*` path: the system a `FunctionSystem<..., path::to::system>` runs is the last in its
# name; a system the compiler left as its own function is `<&mut path::to::system as FnMut<..>>`.
SYSTEM = re.compile(r"socium_[a-z_]+(?:::[a-z_0-9]+)+")
CALLED = re.compile(r"<&mut (socium_[a-z_]+(?:::[a-z_0-9]+)+) as core::ops::function::FnMut")


def system(function: str) -> str:
    """The system a function runs, as `system path::to::system`, or the function's own name."""
    called = CALLED.match(function)
    if called:
        return "system " + called.group(1)
    systems = SYSTEM.findall(function) if "FunctionSystem" in function else []
    return "system " + systems[-1] if systems else function
