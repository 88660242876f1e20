#!/usr/bin/env bash
# Side by side, in one run: Socium's IPD round robin (scenarios/ipd_tournament.toml: 8 strategies,
# 200 turns, 10 repetitions), its matches laid out by round (the scenario's) and all at once
# (`--set game.repeated.matches=at_once`), against the Python library axelrod's Tournament on the
# same players. Installs axelrod into .venv-bench on first use.
# Usage: benches/ipd_vs_axelrod.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-7}
venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements-axelrod.txt
cargo build --release --quiet -p socium-cli
bench() {
  ./target/release/socium bench scenario scenarios/ipd_tournament.toml --repeats "$repeats" --json "$@"
}
by_round=$(bench)
at_once=$(bench --set game.repeated.matches=at_once)
axelrod=$("$venv/bin/python" benches/axelrod_tournament.py --repeats "$repeats")
python3 - "$by_round" "$at_once" "$axelrod" <<'PY'
import json, sys
r, o, a = (json.loads(x) for x in sys.argv[1:])
cols = [("socium by_round", r), ("socium at_once", o)]
print(f"{'':28}" + "".join(f"{name:>17}" for name, _ in cols) + f"{'axelrod ' + a['version']:>17}")
def row(label, cells, last):
    print(f"{label:28}" + "".join(f"{c:>17}" for c in cells) + f"{last:>17}")
row("median s per tournament", [f"{s['median_seconds']:.6f}" for _, s in cols], f"{a['median_seconds']:.6f}")
row("axelrod's time / socium's", [f"{a['median_seconds'] / s['median_seconds']:.1f}x" for _, s in cols], "")
row("steps (played)", [f"{s['steps']} ({s['played_steps']})" for _, s in cols], "")
# Two decisions per match-turn; the rest repeat earlier episodes' records.
row("match-turns per tournament", [s["decisions"] // 2 for _, s in cols], a["match_turns_per_tournament"])
row("  of which simulated", [s["played_decisions"] // 2 for _, s in cols], a["simulated_turns_per_tournament"])
rate = lambda turns, secs: f"{turns / secs:.3e}"
row("simulated match-turns/s", [rate(s["played_decisions"] // 2, s["median_seconds"]) for _, s in cols],
    rate(a["simulated_turns_per_tournament"], a["median_seconds"]))
PY
