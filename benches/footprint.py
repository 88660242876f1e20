"""Cache lines an env-step misses in a core's L2, by source line: the memory footprint of a
VecEnv step, measured without timing, so that it gives the same figure on a shared machine.

    python3 benches/footprint.py [--scenario scenarios/donor_cultural_evolution.toml]
                                 [--envs 4096] [--l2 1048576] [--top 25] [--records]
                                 [--by line|system]

It runs `socium bench vecenv` (one thread) under valgrind's cachegrind twice, timing 50 and 150
steps, with a first level of 64 KiB and a last level the size of one core's L2 (`--l2`, bytes,
16-way), and takes the difference, so that set-up and warm-up cancel out. `--records` keeps every
step's utterances and reward entries, as the Python VecEnv does by default. What misses that level is
what a step brings from L3 or DRAM: once the envs' footprint outgrows the L3 (32 MiB on the EPYC
machine of docs/BENCHMARKS.md), every such line is a DRAM transfer, and the figure times the env
count is the traffic of a step. The binary is benches/cachegrind.py's (a release build with line
tables, a few minutes the first time). `--by system` sums the lines by the bevy system (or the
function) whose code missed them, as benches/instructions.py names them. Needs valgrind (Debian: `apt-get install valgrind`).
"""

import argparse
import tempfile
from pathlib import Path

import cachegrind

STEPS = (50, 150)


def misses(binary: Path, args, steps: int, out: Path):
    """Last-level data misses (read and written) of one run, by (file, line) or by function."""
    bench = ["bench", "vecenv", args.scenario, "--envs", args.envs, "--steps", steps,
             "--repeats", 1, "--threads", 1] + (["--records"] if args.records else [])
    cachegrind.run(binary, bench, out, cache=(65536, args.l2))
    return cachegrind.counts(out, ["DLmr", "DLmw"], by="line" if args.by == "line" else "function")


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
    parser.add_argument("--scenario", type=Path,
                        default=cachegrind.ROOT / "scenarios/donor_cultural_evolution.toml")
    parser.add_argument("--envs", type=int, default=4096)
    parser.add_argument("--l2", type=int, default=1 << 20, help="last level's size in bytes")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--records", action="store_true",
                        help="keep utterances and reward entries (the Python VecEnv's default)")
    parser.add_argument("--by", choices=["line", "system"], default="line",
                        help="sum the misses by source line or by system")
    args = parser.parse_args()
    cachegrind.require_valgrind("footprint")
    binary = cachegrind.build()
    with tempfile.TemporaryDirectory() as tmp:
        short, long = (misses(binary, args, s, Path(tmp) / f"{s}.out") for s in STEPS)
    per_step = cachegrind.difference(short, long, args.envs * (STEPS[1] - STEPS[0]))
    total = sum(per_step.values())
    records = ", records kept" if args.records else ""
    print(f"{args.scenario.name}, {args.envs} envs, one thread{records}, last level {args.l2} bytes:")
    print(f"{total:.1f} lines missed an env-step ({total * 64 / 1024:.2f} KiB; "
          f"{total * 64 * args.envs / 2**20:.1f} MiB a step)")
    if args.by == "system":
        systems = {}
        for function, lines in per_step.items():
            systems[cachegrind.system(function)] = systems.get(cachegrind.system(function), 0) + lines
        for system, lines in sorted(systems.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"{lines:6.2f}  {system[:110]}")
        return
    cache = {}
    for (file, line), lines in sorted(per_step.items(), key=lambda kv: -kv[1])[: args.top]:
        where = "/".join(file.split("/")[-2:])
        print(f"{lines:6.2f}  {where}:{line}  {source(file, line, cache)}")


if __name__ == "__main__":
    main()
