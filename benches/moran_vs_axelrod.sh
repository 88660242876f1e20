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
played=$(./target/release/socium bench evolve benches/moran_tft_alld.toml --generations "$generations" --repeats "$repeats" --play-every-generation --json)
axelrod=$("$venv/bin/python" benches/axelrod_moran.py --generations "$generations" --repeats "$repeats")
python3 - "$socium" "$played" "$axelrod" <<'PY'
import json, sys
s, p, a = (json.loads(x) for x in sys.argv[1:])
head = f"median s per {s['generations']} generations"
print(f"{'':34}{'seconds':>10}{'generations/s':>15}{'vs axelrod':>12}")
for name, r in [("socium (populations remembered)", s), ("socium (every generation played)", p),
                ("axelrod " + a["version"], a)]:
    print(f"{name:34}{r['median_seconds']:>10.4f}{r['generations_per_second']:>15.1f}"
          f"{a['median_seconds'] / r['median_seconds']:>11.1f}x")
print(f"({head}; axelrod caches each deterministic match after its first play)")
PY
