"""Two builds of the Python package side by side: the VecEnv's agent-steps/s at 64, 1,024 and 4,096
envs for each, timed in alternation, so that a change to the kernel is judged against the build
before it on the same machine in the same spell.

    .venv/bin/python benches/ab_python.py BEFORE AFTER [--rounds 3] [--repeats 5] [--threads N]
                                          [--no-records]

BEFORE and AFTER are each a git revision (`HEAD~1`, a commit) or a source tree's folder (a
checkout with uncommitted changes, say). Each is built once into target/ab/ (a git worktree for a
revision, the package installed there by pip and maturin, each with a cargo target folder of its
own: one shared lets a build take the other's artifacts, which cargo names alike); a revision's
build found there is reused. Then every round
runs one process per build, their order swapped from round to round, each timing every env count
`--repeats` times in rounds as benches/python_vs_socium.py does (its `time_socium`, the donor game
of scenarios/donor_learner.toml, records kept unless `--no-records`), on rayon's default pool or
`--threads N` (RAYON_NUM_THREADS). One thread shows what the envs' memory costs without the
second core's timing: on a shared VM the 64-env figure on two threads moves the most (a step of 64
envs is tens of microseconds, and the other core's wake-ups fall in it).

The table gives, per build and env count, the median over the processes of agent-steps/s and of
the figure over the 64-env figure of the same process (issue 12's target: at least 0.9 at 1,024
and 4,096 envs), and per count AFTER's median rate over BEFORE's. On a shared VM one process's
figures can sit 10% off another's: read the spread (min–max) beside each median before believing a
difference of a few percent. Write the machine's cache sizes beside any figure you keep
(docs/BENCHMARKS.md).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AB = ROOT / "target/ab"
# Env counts and the steps each is timed over: about 0.8 M env-steps each, as python_vs_socium.py.
SIZES = [(64, 12800), (1024, 800), (4096, 200)]


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"ab_python: git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def source(build: str) -> tuple[str, Path, Path, bool]:
    """A build's name for the table, its source tree, the folder its package goes to, and whether
    a package found there may be reused: a revision's worktree is made once under target/ab/ and
    its package built once; a folder's package is built anew every time (its files may have
    changed)."""
    if Path(build).is_dir():
        tree = Path(build).resolve()
        if not (tree / "crates/socium-py/pyproject.toml").is_file():
            sys.exit(f"ab_python: {build}: not a Socium source tree (no crates/socium-py)")
        return build, tree, AB / ("tree-" + "-".join(tree.parts[1:])) / "package", False
    commit = git("rev-parse", "--verify", "--quiet", f"{build}^{{commit}}")
    place = AB / commit[:12]
    if not (place / "src").is_dir():
        # A worktree whose folder went (`cargo clean` takes target/) is still registered.
        git("worktree", "prune")
        git("worktree", "add", "--detach", str(place / "src"), commit)
    return f"{build} ({commit[:9]})", place / "src", place / "package", True


def install(name: str, tree: Path, package: Path, reuse: bool) -> Path:
    """The package of `tree` in `package`, built with the venv's pinned maturin."""
    if reuse and package.is_dir():
        return package
    print(f"building {name} ...", file=sys.stderr, flush=True)
    env = dict(os.environ, CARGO_TARGET_DIR=str(package.parent / "cargo"))
    # maturin's build backend runs the `maturin` program: the venv's, as scripts/python-env does.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-build-isolation", "--no-deps", "--upgrade", "--target", str(package),
         str(tree / "crates/socium-py")],
        env=env, check=True,
    )
    return package


def time_counts(repeats: int, records: bool) -> dict:
    """In a process whose `socium` is one build's: each count's rates over `repeats` rounds."""
    from python_vs_socium import time_socium  # imports `socium`: the build's, on PYTHONPATH

    rounds = [{envs: time_socium(envs, steps, records) for envs, steps in SIZES}
              for _ in range(repeats)]
    return {str(envs): [r[envs] for r in rounds] for envs, _ in SIZES}


def run_build(package: Path, repeats: int, records: bool, threads: int | None) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{package}{os.pathsep}{HERE}")
    if threads is not None:
        env["RAYON_NUM_THREADS"] = str(threads)
    command = [sys.executable, __file__, "--time", str(package), "--repeats", str(repeats)]
    done = subprocess.run(command + ([] if records else ["--no-records"]), env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"ab_python: timing {package} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def spread(values) -> str:
    return f"{statistics.median(values):.3g} ({min(values):.3g}–{max(values):.3g})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="*", metavar="BUILD", help="BEFORE and AFTER")
    parser.add_argument("--rounds", type=int, default=3, help="processes per build")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of counts per process")
    parser.add_argument("--threads", type=int, help="rayon threads (default: one per core)")
    parser.add_argument("--no-records", dest="records", action="store_false")
    parser.add_argument("--time", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time is not None:
        import socium

        if Path(socium.__file__).resolve().parents[1] != args.time.resolve():
            sys.exit(f"ab_python: imported {socium.__file__}, not the build in {args.time}")
        print(json.dumps(time_counts(args.repeats, args.records)))
        return
    if len(args.builds) != 2:
        parser.error("give two builds: BEFORE and AFTER")
    builds = [source(b) for b in args.builds]
    packages = [install(*build) for build in builds]
    figures = [[], []]
    for r in range(args.rounds):
        for b in ([0, 1] if r % 2 == 0 else [1, 0]):
            figures[b].append(run_build(packages[b], args.repeats, args.records, args.threads))
            print(f"round {r + 1}/{args.rounds}: {builds[b][0]} timed", file=sys.stderr, flush=True)
    records = "records kept" if args.records else "records=False"
    threads = {None: "one thread a core", 1: "one thread"}.get(args.threads, f"{args.threads} threads")
    print(f"donor_learner.toml, {records}, {threads}; {args.rounds} processes a build, "
          f"{args.repeats} rounds each; medians (min–max) over the processes of each process's "
          f"median")
    print("| build | envs | agent-steps/s | vs 64 envs |")
    print("| --- | ---: | ---: | ---: |")
    rates = [{}, {}]
    for b, (name, *_) in enumerate(builds):
        for envs, _ in SIZES:
            own = [statistics.median(p[str(envs)]) for p in figures[b]]
            ratio = [statistics.median(x / y for x, y in zip(p[str(envs)], p["64"]))
                     for p in figures[b]]
            rates[b][envs] = statistics.median(own)
            print(f"| {name} | {envs} | {spread(own)} | {spread(ratio)} |")
    for envs, _ in SIZES:
        print(f"AFTER / BEFORE at {envs} envs: {rates[1][envs] / rates[0][envs]:.3f}")


if __name__ == "__main__":
    main()
