"""`socium.evolve` runs one run of a scenario's evolution, exactly as `socium evolve` does."""

import csv
import subprocess

import pytest

import socium
from conftest import ROOT

SCENARIO = ROOT / "scenarios/image_scoring_evolution.toml"


def test_matches_the_cli_run_for_run(tmp_path):
    runs = [socium.evolve(SCENARIO, run=r, overrides={"evolution.generations": 5}) for r in range(2)]
    assert runs[0]["labels"] == ["discriminator(k=0)", "allc", "alld"]
    assert [len(r["generations"]) for r in runs] == [5, 5]
    assert runs[0] != runs[1]
    binary = ROOT / "target/debug/socium"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: `cargo test --workspace` builds it (scripts/test runs it first)")
    subprocess.run(
        [binary, "evolve", SCENARIO, "--runs", "2", "--generations", "5", "--out", tmp_path], check=True, capture_output=True
    )
    rows = list(csv.DictReader(open(tmp_path / "generations.csv")))
    assert len(rows) == 2 * 5
    for row in rows:
        mine = runs[int(row["run"])]["generations"][int(row["generation"])]
        assert float(row["mean_payoff"]) == mine["mean_payoff"]
        assert [round(float(row[f"freq[{l}]"]) * 60) for l in runs[0]["labels"]] == mine["counts"]


def test_overrides_and_errors():
    short = socium.evolve(SCENARIO, overrides={"evolution.generations": 3}, observation=0.02)
    assert len(short["generations"]) == 3
    with pytest.raises(socium.ScenarioError, match="no \\[evolution\\] table"):
        socium.evolve(ROOT / "scenarios/ipd_tournament.toml")
