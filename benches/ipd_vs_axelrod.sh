#!/usr/bin/env bash
# Side by side, in one run: Socium's IPD round robin (scenarios/ipd_tournament.toml: 8 strategies,
# 200 turns, 10 repetitions) against the Python library axelrod's Tournament on the same players.
# Installs axelrod into .venv-bench on first use. Usage: benches/ipd_vs_axelrod.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-7}
venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements-axelrod.txt
cargo build --release --quiet -p socium-cli
socium=$(./target/release/socium bench scenario scenarios/ipd_tournament.toml --repeats "$repeats" --json)
axelrod=$("$venv/bin/python" benches/axelrod_tournament.py --repeats "$repeats")
python3 - "$socium" "$axelrod" <<'PY'
import json, sys
s, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
s_turns = s["decisions"] // 2  # two decisions per match-turn
s_played = s["played_decisions"] // 2  # the rest repeat earlier episodes' records
print(f"{'':28}{'socium':>14}{'axelrod ' + a['version']:>18}{'ratio':>10}")
print(f"{'median s per tournament':28}{s['median_seconds']:>14.5f}{a['median_seconds']:>18.5f}"
      f"{a['median_seconds'] / s['median_seconds']:>9.1f}x")
print(f"{'match-turns per tournament':28}{s_turns:>14}{a['match_turns_per_tournament']:>18}")
print(f"{'  of which simulated':28}{s_played:>14}{a['simulated_turns_per_tournament']:>18}")
s_rate = s_played / s["median_seconds"]
a_rate = a["simulated_turns_per_tournament"] / a["median_seconds"]
print(f"{'simulated match-turns/s':28}{s_rate:>14.3e}{a_rate:>18.3e}{s_rate / a_rate:>9.1f}x")
PY
