#!/usr/bin/env python3
"""Time the Python library axelrod's MoranProcess: the Python half of the Moran benchmark.

10 players, 5 TitForTat and 5 Defector, 50-turn matches, payoffs R=3 S=0 T=5 P=1, no noise,
birth-death mode (axelrod's default), no mutation, `stop_on_fixation=False` so that every run
plays exactly G generations. A generation (one `next()`) plays every pair's match, then one
birth-death update, as benches/moran_tft_alld.toml does in Socium.

axelrod caches deterministic matches (its DeterministicCache): after the first generation every
TFT/ALLD pairing is served from the cache instead of simulated. The cache is what axelrod does by
default, so it is kept; the report says how many matches were simulated.

Usage:
    python benches/axelrod_moran.py [--generations G] [--repeats K]

One untimed warm-up, then K (default 5) timed runs of G (default 1000) generations, each from a
new MoranProcess (and a new cache); prints one JSON object.
"""

import argparse
import json
import statistics
import time

import axelrod as axl


def process(seed: int) -> axl.MoranProcess:
    players = [axl.TitForTat() for _ in range(5)] + [axl.Defector() for _ in range(5)]
    return axl.MoranProcess(
        players, turns=50, game=axl.Game(r=3, s=0, t=5, p=1), stop_on_fixation=False, seed=seed
    )


def run(generations: int, seed: int) -> tuple[float, int]:
    """Seconds for `generations` generations, and the matches simulated (not cached)."""
    mp = process(seed)
    start = time.perf_counter()
    for _ in range(generations):
        next(mp)
    seconds = time.perf_counter() - start
    return seconds, len(mp.deterministic_cache)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    run(min(args.generations, 50), seed=0)
    times, cached = [], 0
    for k in range(args.repeats):
        seconds, cached = run(args.generations, seed=k + 1)
        times.append(seconds)
    median = statistics.median(times)
    print(json.dumps({
        "version": axl.__version__,
        "generations": args.generations,
        "seconds": times,
        "median_seconds": median,
        "generations_per_second": args.generations / median,
        "distinct_matches_simulated": cached,
    }))
