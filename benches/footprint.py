"""Cache lines an env-step misses in a core's L2, by source line: the memory footprint of a
VecEnv step, measured without timing, so that it gives the same figure on a shared machine.

    python3 benches/footprint.py [--scenario scenarios/donor_cultural_evolution.toml]
                                 [--envs 4096] [--l2 1048576] [--top 25]

It runs `socium bench vecenv` (one thread) under valgrind's cachegrind twice, timing 50 and 150
steps, with a first level of 64 KiB and a last level the size of one core's L2 (`--l2`, bytes,
16-way), and takes the difference, so that set-up and warm-up cancel out. What misses that level is
what a step brings from L3 or DRAM: once the envs' footprint outgrows the L3 (32 MiB on the EPYC
machine of docs/BENCHMARKS.md), every such line is a DRAM transfer, and the figure times the env
count is the traffic of a step. The binary is built with line tables into target/footprint (a
release build, a few minutes the first time). Needs valgrind (Debian: `apt-get install
valgrind`).
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target/footprint"
STEPS = (50, 150)


def build() -> Path:
    env = dict(os.environ, CARGO_PROFILE_RELEASE_DEBUG="line-tables-only")
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "socium-cli", "--target-dir", str(TARGET)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return TARGET / "release/socium"


def misses(binary: Path, args, steps: int, out: Path) -> collections.Counter:
    """Last-level data misses (read and written) of one run, by (file, line)."""
    subprocess.run(
        [
            "valgrind", "--tool=cachegrind", "--cache-sim=yes", "--D1=65536,8,64",
            f"--LL={args.l2},16,64", f"--cachegrind-out-file={out}",
            str(binary), "bench", "vecenv", str(args.scenario), "--envs", str(args.envs),
            "--steps", str(steps), "--repeats", "1", "--threads", "1",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    counts, events, file = collections.Counter(), None, None
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
            read, written = events.index("DLmr"), events.index("DLmw")
        elif line.startswith("fl="):
            file = line[3:]
        elif line[:1].isdigit():
            fields = line.split()
            values = [int(v) for v in fields[1:]] + [0] * (len(events) - len(fields) + 1)
            counts[(file, int(fields[0]))] += values[read] + values[written]
    return counts


def source(file: str, line: int, cache: dict) -> str:
    if file not in cache:
        try:
            cache[file] = Path(file).read_text().splitlines()
        except OSError:
            cache[file] = []
    text = cache[file]
    return text[line - 1].strip()[:80] if 0 < line <= len(text) else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios/donor_cultural_evolution.toml")
    parser.add_argument("--envs", type=int, default=4096)
    parser.add_argument("--l2", type=int, default=1 << 20, help="last level's size in bytes")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("footprint: valgrind is not installed (Debian: apt-get install valgrind)")
    binary = build()
    with tempfile.TemporaryDirectory() as tmp:
        short, long = (misses(binary, args, s, Path(tmp) / f"{s}.out") for s in STEPS)
    env_steps = args.envs * (STEPS[1] - STEPS[0])
    per_step = {k: (long[k] - short.get(k, 0)) / env_steps for k in long}
    total = sum(per_step.values())
    print(f"{args.scenario.name}, {args.envs} envs, one thread, last level {args.l2} bytes:")
    print(f"{total:.1f} lines missed an env-step ({total * 64 / 1024:.2f} KiB; "
          f"{total * 64 * args.envs / 2**20:.1f} MiB a step)")
    cache = {}
    for (file, line), lines in sorted(per_step.items(), key=lambda kv: -kv[1])[: args.top]:
        where = "/".join(file.split("/")[-2:])
        print(f"{lines:6.2f}  {where}:{line}  {source(file, line, cache)}")


if __name__ == "__main__":
    main()
