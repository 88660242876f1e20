"""Socium from Python: a PettingZoo ParallelEnv and a zero-copy vectorised env over the Rust engine.

>>> import socium
>>> env = socium.parallel_env("scenarios/ipd_learner.toml", seed=1)
>>> obs, infos = env.reset(seed=1)

``socium.text_env`` is the same env in text, for trainers of language models: observations are
prompts, actions the answers' text.

Scenario overrides are keyword arguments, checked exactly like the scenario file: a plain name is
a key of the game's table (``noise=0.05``), ``seed``/``episodes``/``max_steps`` are
``[scenario]`` keys, and a dotted name (``"agents[1].count"``) may be passed through ``overrides``.

A refused scenario or override raises ``ScenarioError`` (a ``ValueError``) naming the file, line,
column and key; ``parallel_env`` of a scenario without ``controller = "external"`` agents raises
its subclass ``NoExternalAgentsError``.

Agents with ``policy = "model.onnx"`` run through ONNX Runtime: the library of the installed
``onnxruntime`` package is used unless ``ORT_DYLIB_PATH`` or the scenario names another.
"""

import importlib.util
from pathlib import Path

from socium._socium import (
    ActionDtypeError,
    ActionError,
    ActionNotADistributionError,
    ActionNotFiniteError,
    ActionNotIntegerError,
    ActionOutOfRangeError,
    ActionShapeError,
    ActionTextError,
    MaskedActionError,
    NoExternalAgentsError,
    PolicyError,
    ScenarioError,
    env_seeds,
    games,
    heron_preference,
    prefer_onnxruntime,
)
from socium.env import ParallelEnv, parallel_env
from socium.evolve import evolve
from socium.text import AnswerError, TextParallelEnv, text_env
from socium.vector import VecEnv


def _prefer_installed_onnxruntime() -> None:
    """Names the ONNX Runtime library of the installed ``onnxruntime`` package, if any, to the
    engine; finding it imports nothing and loads nothing."""
    spec = importlib.util.find_spec("onnxruntime")
    for location in (spec.submodule_search_locations or []) if spec else []:
        libraries = sorted(Path(location, "capi").glob("*onnxruntime.*"))
        libraries = [p for p in libraries if p.suffix not in (".py", ".pyc")]
        if libraries:
            prefer_onnxruntime(libraries[0])
            return


_prefer_installed_onnxruntime()

__all__ = [
    "ActionDtypeError",
    "AnswerError",
    "ActionError",
    "ActionNotADistributionError",
    "ActionNotFiniteError",
    "ActionNotIntegerError",
    "ActionOutOfRangeError",
    "ActionShapeError",
    "ActionTextError",
    "MaskedActionError",
    "NoExternalAgentsError",
    "ParallelEnv",
    "PolicyError",
    "ScenarioError",
    "TextParallelEnv",
    "VecEnv",
    "env_seeds",
    "evolve",
    "games",
    "heron_preference",
    "parallel_env",
    "text_env",
]
