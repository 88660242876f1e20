"""Socium from Python: a PettingZoo ParallelEnv and a zero-copy vectorised env over the Rust engine.

>>> import socium
>>> env = socium.parallel_env("scenarios/ipd_learner.toml", seed=1)
>>> obs, infos = env.reset(seed=1)

Scenario overrides are keyword arguments, checked exactly like the scenario file: a plain name is
a key of the game's table (``noise=0.05``), ``seed``/``episodes``/``max_steps`` are
``[scenario]`` keys, and a dotted name (``"agents[1].count"``) may be passed through ``overrides``.
"""

from socium._socium import (
    ActionDtypeError,
    ActionError,
    ActionNotFiniteError,
    ActionNotIntegerError,
    ActionOutOfRangeError,
    ActionShapeError,
    MaskedActionError,
    ScenarioError,
    env_seeds,
)
from socium.env import ParallelEnv, parallel_env
from socium.evolve import evolve
from socium.vector import VecEnv

__all__ = [
    "ActionDtypeError",
    "ActionError",
    "ActionNotFiniteError",
    "ActionNotIntegerError",
    "ActionOutOfRangeError",
    "ActionShapeError",
    "MaskedActionError",
    "ParallelEnv",
    "ScenarioError",
    "VecEnv",
    "env_seeds",
    "evolve",
    "parallel_env",
]
