"""One evolutionary run of a scenario's ``[evolution]`` table, from Python (GIL released)."""

from __future__ import annotations

import json
import os
from typing import Any

from socium import _socium
from socium._common import check_seed, override_pairs


def evolve(
    scenario: str | os.PathLike,
    run: int = 0,
    seed: int | None = None,
    overrides: dict | None = None,
    **more_overrides: Any,
) -> dict:
    """Plays run ``run`` of the scenario's evolution, seeded from ``seed`` (default the
    scenario's) and ``run`` exactly as ``socium evolve`` does, with overrides checked like the
    file (dotted keys such as ``"evolution.generations"`` through ``overrides``).

    Returns ``{"labels": [...], "parameters": [...], "generations": [...]}``: the types' labels,
    the drifting parameters (``"label.param"``), and per generation ``counts`` (per type),
    ``mean_payoff``, ``cooperation``, ``reputation`` (or None) and ``parameters`` (the mean of
    each drifting parameter among its type's members, None once the type is extinct).
    """
    pairs = override_pairs({**(overrides or {}), **more_overrides})
    result = _socium.evolve(os.fspath(scenario), pairs, run, check_seed(seed))
    return json.loads(result)
