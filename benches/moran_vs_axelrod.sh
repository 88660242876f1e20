#!/usr/bin/env bash
# Side by side, in one run: Moran generations per second of Socium (benches/moran_tft_alld.toml:
# 5 TFT and 5 ALLD, 50-turn matches, every pair once a generation, one birth-death update) against
# the Python library axelrod's MoranProcess on the same setting. Installs axelrod into
# .venv-bench on first use. Usage: benches/moran_vs_axelrod.sh [GENERATIONS] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
generations=${1:-1000}
repeats=${2:-5}
venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements-axelrod.txt
cargo build --release --quiet -p socium-cli
socium=$(./target/release/socium bench evolve benches/moran_tft_alld.toml --generations "$generations" --repeats "$repeats" --json)
axelrod=$("$venv/bin/python" benches/axelrod_moran.py --generations "$generations" --repeats "$repeats")
python3 - "$socium" "$axelrod" <<'PY'
import json, sys
s, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'':32}{'socium':>14}{'axelrod ' + a['version']:>18}{'ratio':>10}")
print(f"{'median s per ' + str(s['generations']) + ' generations':32}{s['median_seconds']:>14.4f}"
      f"{a['median_seconds']:>18.4f}{a['median_seconds'] / s['median_seconds']:>9.1f}x")
print(f"{'generations/s':32}{s['generations_per_second']:>14.1f}{a['generations_per_second']:>18.1f}")
print(f"{'matches simulated per generation':32}{45:>14}{'(cached after the first)':>26}")
PY
