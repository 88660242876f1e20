#!/usr/bin/env bash
# The million-agent benchmark (issue 12): the norms game of scenarios/leading_eight.toml (90%
# leading-eight discriminators, 10% defectors) on a Barabási–Albert graph (m = 3), 100,000 and
# 1,000,000 agents, one episode of ROUNDS rounds; set-up (reading the scenario, building the Sim,
# its first reset and graph) and the rounds timed apart by `socium bench setup`, each run in a
# fresh process as `socium run` meets it, the two sizes alternated REPEATS times; prints the
# medians and the set-up ratio. Usage: benches/million_agents.sh [REPEATS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-7}
rounds=${2:-10}
cargo build --release --quiet -p socium-cli
runs=$(for _ in $(seq "$repeats"); do
  for n in 100000 1000000; do
    ./target/release/socium bench setup scenarios/leading_eight.toml --json \
      --set "agents[0].count=$((n * 9 / 10))" --set "agents[1].count=$((n / 10))" \
      --set 'graph={ barabasi_albert = { m = 3 } }' --set episodes=1 \
      --set "game.norms.rounds=$rounds"
  done
done)
python3 - "$runs" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in sys.argv[1].splitlines()]
median = {}
for n in sorted({r["agents"] for r in runs}):
    mine = [r for r in runs if r["agents"] == n]
    setup = [r["load_seconds"] + r["build_seconds"] for r in mine]
    play = [r["play_seconds"] for r in mine]
    total = [s + p for s, p in zip(setup, play)]
    median[n] = statistics.median(setup)
    print(f"{n:>9} agents: set-up {median[n]:.3f} s (load {statistics.median(r['load_seconds'] for r in mine):.3f}, "
          f"build {statistics.median(r['build_seconds'] for r in mine):.3f}), {mine[0]['steps']} rounds "
          f"{statistics.median(play):.3f} s, whole {statistics.median(total):.3f} s "
          f"(set-ups {' '.join(f'{s:.2f}' for s in setup)})")
small, big = min(median), max(median)
print(f"set-up ratio {big // small}x agents: {median[big] / median[small]:.1f}x time")
PY
