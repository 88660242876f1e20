"""What the PettingZoo env and the vector env share: the Rust env, its buffers, spaces, overrides."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from gymnasium import spaces

from socium import _socium


def toml_value(value: Any) -> str:
    """A Python value as TOML text, for a scenario override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"override value {value!r}: expected a number, bool, string, list or dict")


def override_pairs(overrides: dict) -> list[str]:
    """Overrides as the ``key=value`` strings the engine parses."""
    return [f"{k}={toml_value(v)}" for k, v in overrides.items()]


def scenario_seed(scenario: str | os.PathLike, overrides: dict) -> int:
    """The seed the scenario file (with overrides) names."""
    return _socium.scenario_seed(os.fspath(scenario), override_pairs(overrides))


def gym_space(spec: dict) -> spaces.Space:
    """The Gymnasium space of a Socium space (as the Rust side serialises it)."""
    (kind, body), = spec.items()
    if kind == "discrete":
        return spaces.Discrete(body["n"])
    if kind == "multi_discrete":
        return spaces.MultiDiscrete(body["nvec"])
    if kind == "box":
        # JSON has no infinity: unbounded ends arrive as null.
        low = np.array([-np.inf if x is None else x for x in body["low"]], np.float32)
        high = np.array([np.inf if x is None else x for x in body["high"]], np.float32)
        return spaces.Box(low, high, dtype=np.float32)
    if kind == "tuple":
        return spaces.Tuple([gym_space(part) for part in body])
    raise ValueError(f"unknown space {kind}")


def flat_dim(space: spaces.Space) -> int:
    """Entries of a flat action row."""
    if isinstance(space, spaces.Discrete):
        return 1
    if isinstance(space, spaces.Tuple):
        return sum(flat_dim(s) for s in space.spaces)
    return int(np.prod(space.shape))


def numeric(actions: Any) -> np.ndarray:
    """`actions` as a numpy array of numbers, or ActionDtypeError."""
    try:
        array = np.asarray(actions)
    except (TypeError, ValueError) as e:
        raise _socium.ActionDtypeError(f"actions: expected numbers, found {actions!r}: {e}") from None
    if array.dtype.kind not in "biuf":
        raise _socium.ActionDtypeError(f"actions: expected numbers, found dtype {array.dtype}")
    return array


def flatten_action(space: spaces.Space, action: Any, out: np.ndarray) -> None:
    """Writes `action` into the flat float32 row `out` (discrete choices as whole numbers)."""
    if isinstance(space, spaces.Tuple):
        at = 0
        for part, value in zip(space.spaces, action):
            n = flat_dim(part)
            flatten_action(part, value, out[at : at + n])
            at += n
    else:
        out[:] = numeric(action).astype(np.float32).reshape(-1)


class Core:
    """The Rust env and the numpy buffers it writes in place."""

    def __init__(self, scenario: str | os.PathLike, seeds: list[int], overrides: dict, text: bool = False):
        self.scenario = os.fspath(scenario)
        self.overrides = dict(overrides)
        num_envs = len(seeds)
        self.rust = _socium.RustVecEnv(self.scenario, override_pairs(self.overrides), seeds, text=text)
        self.spec = json.loads(self.rust.spec)
        self.num_envs = num_envs
        self.n = len(self.spec["agents"])
        self.observation_space = gym_space(self.spec["observation_space"])
        self.action_space = gym_space(self.spec["action_space"])
        self.obs_dim = int(np.prod(self.observation_space.shape))
        self.act_dim = flat_dim(self.action_space)
        self.mask_dim = _mask_dim(self.action_space)
        self.dimensions = self.spec["reward_dimensions"]
        shape = (num_envs, self.n)
        self.obs = np.zeros(shape + (self.obs_dim,), np.float32)
        self.masks = np.zeros(shape + (self.mask_dim,), np.uint8)
        self.acting = np.zeros(shape, np.bool_)
        self.rewards = np.zeros(shape, np.float32)
        self.reward_components = np.zeros(shape + (len(self.dimensions),), np.float32)
        self.terminated = np.zeros(shape, np.bool_)
        self.truncated = np.zeros(shape, np.bool_)
        self.actions = np.zeros(shape + (self.act_dim,), np.float32)
        self.rust.bind(*self.buffers())

    def buffers(self) -> tuple:
        return (self.obs, self.masks, self.acting, self.rewards, self.reward_components, self.terminated, self.truncated)

    def reset(self, seeds: list[int] | None) -> None:
        self.rust.reset(seeds)

    def step(self, actions: np.ndarray) -> None:
        self.rust.step(actions)

    def utterances(self, env: int) -> list[dict]:
        return json.loads(self.rust.utterances(env))


def _mask_dim(space: spaces.Space) -> int:
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    if isinstance(space, spaces.Tuple):
        return sum(_mask_dim(s) for s in space.spaces)
    return 0
