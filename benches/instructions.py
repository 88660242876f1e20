"""Instructions a decision of a VecEnv step, or a generation of an evolutionary run, by system:
the CPU work, counted without timing, so that it gives the same figure on a shared machine.

    python3 benches/instructions.py vecenv scenarios/leading_eight.toml [--envs 64] [--top 15]
    python3 benches/instructions.py evolve benches/moran_tft_alld.toml [--top 15]

`vecenv` runs `socium bench vecenv` (one thread, one repeat) under valgrind's cachegrind at 100 and
300 steps and divides the difference by the decisions between them (acting agents before each
step, as the bench counts them); `evolve` runs `socium bench evolve --play-every-generation` at 100
and 300 generations and divides by the generations between them (the bench plays a warm-up run of
as many first). Set-up and warm-up cancel out. Each line is a function; a bevy system's body, which
the compiler inlines into the system's runner, is named by its system (`system ...`). The binary is
benches/cachegrind.py's (a release build, a few minutes the first time). Needs valgrind (Debian:
`apt-get install valgrind`).
"""

import argparse
import json
import tempfile
from pathlib import Path

import cachegrind

LENGTHS = (100, 300)

def bench_args(args, length: int):
    if args.mode == "vecenv":
        return ["bench", "vecenv", args.scenario, "--envs", args.envs, "--steps", length,
                "--repeats", 1, "--threads", 1, "--json"]
    return ["bench", "evolve", args.scenario, "--generations", length, "--repeats", 1,
            "--play-every-generation", "--json"]


def units(args, length: int, printed: str) -> int:
    """Decisions timed by the run at `length` steps (from the JSON it printed), or the
    generations it played in all."""
    if args.mode == "evolve":
        return 2 * length
    return json.loads(printed.splitlines()[-1])["decisions_per_repeat"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["vecenv", "evolve"])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--envs", type=int, default=64, help="envs of the VecEnv (vecenv)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    cachegrind.require_valgrind("instructions")
    binary = cachegrind.build()
    with tempfile.TemporaryDirectory() as tmp:
        runs, done = [], []
        for length in LENGTHS:
            out = Path(tmp) / f"{length}.out"
            printed = cachegrind.run(binary, bench_args(args, length), out)
            runs.append(cachegrind.counts(out, ["Ir"], by="function"))
            done.append(units(args, length, printed))
    between = done[1] - done[0]
    per_unit = {}
    for function, n in cachegrind.difference(*runs, between).items():
        system = cachegrind.system(function)
        per_unit[system] = per_unit.get(system, 0) + n
    unit = "decision" if args.mode == "vecenv" else "generation"
    where = f", {args.envs} envs, one thread" if args.mode == "vecenv" else ", every generation played"
    print(f"{args.scenario.name}{where}: {sum(per_unit.values()):,.0f} instructions a {unit}")
    for function, n in sorted(per_unit.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{n:12,.1f}  {function[:110]}")


if __name__ == "__main__":
    main()
