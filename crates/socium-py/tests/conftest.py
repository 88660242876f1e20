"""Shared paths and helpers for the Python tests."""

import tomllib
from pathlib import Path

import pytest

import socium

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def trainable(path: Path) -> bool:
    """Whether the scenario has agents a trainer controls (a PettingZoo env refuses the others);
    a scenario with a `[[timeline]]` is `socium run`'s only."""
    with open(path, "rb") as f:
        if "timeline" in tomllib.load(f):
            return False
    return bool(socium.VecEnv(path, 1).external_agents)


TRAINABLE = [p for p in SCENARIOS if trainable(p)]


def game_of(path: Path) -> str:
    """The game a scenario plays: the name of its `[game.<name>]` table."""
    with open(path, "rb") as f:
        (name,) = tomllib.load(f)["game"]
    return name


def learner_scenarios(game: str) -> list[Path]:
    """The bundled scenarios of `game` with agents a trainer controls."""
    return [p for p in TRAINABLE if game_of(p) == game]


@pytest.fixture(params=TRAINABLE, ids=lambda p: p.stem)
def scenario(request) -> Path:
    return request.param
