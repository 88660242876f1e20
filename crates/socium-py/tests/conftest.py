"""Shared paths and helpers for the Python tests."""

from pathlib import Path

import pytest

import socium

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def trainable(path: Path) -> bool:
    """Whether the scenario has agents a trainer controls (a PettingZoo env refuses the others)."""
    return bool(socium.VecEnv(path, 1).external_agents)


TRAINABLE = [p for p in SCENARIOS if trainable(p)]


@pytest.fixture(params=TRAINABLE, ids=lambda p: p.stem)
def scenario(request) -> Path:
    return request.param
