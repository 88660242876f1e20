#!/usr/bin/env python3
"""Time an Axelrod round-robin tournament with the Python `axelrod` library.

This is the Python half of the Socium-vs-axelrod benchmark. It measures the
wall-clock time of `axelrod.Tournament.play` for 8 deterministic players
(Cooperator, Defector, TitForTat, Grudger, WinStayLoseShift, TitFor2Tats,
SuspiciousTitForTat, Alternator), 200 turns per match, 10 repetitions, no
noise, payoffs R=3 S=0 T=5 P=1, in a single process with no progress bar.

What is (and is not) timed:
  * Only `play()` is timed; importing axelrod (several seconds) and building
    the Tournament are not.
  * `build_results=False`, so no pandas/dask ResultSet is built and no
    per-match statistics are computed.
  * `filename=os.devnull`: axelrod always writes one CSV row per player per
    match (with `filename=None` it writes to a temp file on disk), so rows
    are still formatted but go to /dev/null, not to disk.
  * `processes=None` is axelrod's serial path (`processes=1` would start one
    worker per CPU).
  * axelrod's round robin includes self-play (8*7/2 + 8 = 36 pairs), and for
    deterministic players each pair's Match object replays repetitions 2..10
    from its deterministic cache, so only 1 of the 10 repetitions is actually
    simulated. Both counts are measured in one untimed instrumented run and
    reported (`match_turns_per_tournament` vs `simulated_turns_per_tournament`).

Usage:
    python benches/axelrod_tournament.py [--repeats K]

Runs one untimed warm-up, then K (default 5) timed tournaments, and prints a
single JSON object on stdout (anything axelrod prints goes to stderr).
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

import axelrod as axl

TURNS = 200
REPETITIONS = 10
PLAYER_TYPES = (
    axl.Cooperator,
    axl.Defector,
    axl.TitForTat,
    axl.Grudger,
    axl.WinStayLoseShift,
    axl.TitFor2Tats,
    axl.SuspiciousTitForTat,
    axl.Alternator,
)


def play_tournament():
    """Build and play one tournament; return the seconds spent in play()."""
    tournament = axl.Tournament(
        [cls() for cls in PLAYER_TYPES],
        game=axl.Game(r=3, s=0, t=5, p=1),
        turns=TURNS,
        repetitions=REPETITIONS,
        noise=0,
        seed=0,
    )
    start = time.perf_counter()
    tournament.play(
        build_results=False, filename=os.devnull, processes=None, progress_bar=False
    )
    return time.perf_counter() - start


def count_turns():
    """Play one untimed tournament with axl.Match instrumented.

    Returns (matches, match_turns, simulated_turns): match plays including
    repetitions, turns in the returned results, and turns actually simulated
    (i.e. not served from axelrod's deterministic cache).
    """
    counts = [0, 0, 0]
    orig_play, orig_step = axl.Match.play, axl.Match.simultaneous_play

    def play(self):
        result = orig_play(self)
        counts[0] += 1
        counts[1] += len(result)
        return result

    def step(self, *args, **kwargs):
        counts[2] += 1
        return orig_step(self, *args, **kwargs)

    axl.Match.play, axl.Match.simultaneous_play = play, step
    try:
        play_tournament()
    finally:
        axl.Match.play, axl.Match.simultaneous_play = orig_play, orig_step
    return tuple(counts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (default 5)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    with contextlib.redirect_stdout(sys.stderr):
        matches, match_turns, simulated_turns = count_turns()
        play_tournament()  # warm-up
        seconds = [play_tournament() for _ in range(args.repeats)]

    median = statistics.median(seconds)
    print(json.dumps({
        "library": "axelrod",
        "version": axl.__version__,
        "players": len(PLAYER_TYPES),
        "turns": TURNS,
        "repetitions": REPETITIONS,
        "matches_per_tournament": matches,
        "match_turns_per_tournament": match_turns,
        "simulated_turns_per_tournament": simulated_turns,
        "seconds": seconds,
        "median_seconds": median,
        "tournaments_per_second": 1.0 / median,
        "match_turns_per_second": match_turns / median,
    }))


if __name__ == "__main__":
    main()
