"""What the PettingZoo env and the vector env share: the Rust env, the numpy buffers it writes in
place, Gymnasium spaces, and the encoding of overrides and actions."""

from __future__ import annotations

import json
import numbers
import os
from typing import Any

import numpy as np
from gymnasium import spaces

from socium import _socium
from socium.spaces import FreeText, MultiDiscrete, Simplex, Tuple


def toml_value(value: Any) -> str:
    """A Python value as TOML text, for a scenario override."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return repr(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str):
        # Not ASCII-only: TOML takes no escaped surrogate pairs (a character beyond U+FFFF).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"override value {value!r}: expected a number, bool, string, list or dict")


def override_pairs(overrides: dict) -> list[str]:
    """Overrides as the ``key=value`` strings the engine parses."""
    return [f"{k}={toml_value(v)}" for k, v in overrides.items()]


def check_seed(seed: int | None) -> int | None:
    """A seed for the engine: a whole number in [0, 2**64)."""
    if seed is not None and not (isinstance(seed, numbers.Integral) and 0 <= seed < 2**64):
        raise ValueError(f"seed {seed!r}: expected a whole number in [0, 2**64)")
    return None if seed is None else int(seed)


def check_seeds(seeds, count: int, name: str, hint: str) -> list[int]:
    """One seed for each of ``count`` envs, every one given (``name`` and ``hint`` for errors)."""
    if len(seeds) != count:
        raise ValueError(f"{name}: expected {count} seeds, found {len(seeds)}")
    if None in seeds:
        raise ValueError(f"{name}[{list(seeds).index(None)}] is None: give every env a seed, {hint}")
    return [check_seed(s) for s in seeds]


def scenario_seed(scenario: str | os.PathLike, overrides: dict) -> int:
    """The seed the scenario file (with overrides) names."""
    return _socium.scenario_seed(os.fspath(scenario), override_pairs(overrides))


def gym_space(spec: dict) -> spaces.Space:
    """The Gymnasium space of a Socium space (as the Rust side serialises it)."""
    ((kind, body),) = spec.items()
    if kind == "discrete":
        return spaces.Discrete(body["n"])
    if kind == "multi_discrete":
        return MultiDiscrete(body["nvec"])
    if kind == "box":
        # JSON has no infinity: unbounded ends arrive as null.
        low = np.array([-np.inf if x is None else x for x in body["low"]], np.float32)
        high = np.array([np.inf if x is None else x for x in body["high"]], np.float32)
        return spaces.Box(low, high, dtype=np.float32)
    if kind == "simplex":
        return Simplex(body["n"])
    if kind == "text":
        return FreeText(body["max_chars"])
    if kind == "tuple":
        return Tuple([gym_space(part) for part in body])
    raise ValueError(f"unknown space {kind}")


def numeric(actions: Any) -> np.ndarray:
    """`actions` as a numpy array of numbers, or ActionDtypeError."""
    try:
        array = np.asarray(actions)
    except (TypeError, ValueError) as e:
        raise _socium.ActionDtypeError(f"actions: expected numbers, found {actions!r}: {e}") from None
    if array.dtype.kind not in "biuf":
        raise _socium.ActionDtypeError(f"actions: expected numbers, found dtype {array.dtype}")
    return array


def discrete_entries(space: spaces.Space) -> np.ndarray:
    """Which entries of a flat action row of `space` are discrete choices (bool, one per entry)."""
    if isinstance(space, spaces.Discrete):
        return np.ones(1, bool)
    if isinstance(space, MultiDiscrete):
        return np.ones(len(space.nvec), bool)
    if isinstance(space, spaces.Tuple):
        return np.concatenate([discrete_entries(s) for s in space.spaces] + [np.zeros(0, bool)])
    if isinstance(space, spaces.Text):
        return np.zeros(0, bool)
    return np.zeros(flat_size(space), bool)


# The smallest float64 that float32 rounds to infinity: float32's largest value plus half its last
# step (2**104 there); the largest value's last bit is 1, so the tie rounds up.
FLOAT32_OVERFLOW = float(np.finfo(np.float32).max) + 2.0**103


def check_narrowing(actions: np.ndarray, read: np.ndarray, discrete: np.ndarray, where) -> None:
    """Refuses what float32 would turn into a value the engine takes, in the rows it reads
    (`read`, over `actions`'s leading axes): a finite value beyond float32's range (which would
    arrive as infinite) and a fraction in a discrete entry that float32 rounds to a whole number
    (1.00000001 to 1). `where(index)` names a row by its index in the leading axes. Nothing to do
    for float32 and integer arrays."""
    if actions.dtype.kind != "f" or actions.dtype.itemsize <= 4:
        return
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(actions)
        beyond = finite & (np.abs(actions) >= FLOAT32_OVERFLOW)
        fraction = finite & discrete & (actions != np.floor(actions))
    for bad, exception, expected in [
        (beyond, _socium.ActionOutOfRangeError, "beyond float32's range (actions are float32)"),
        (fraction, _socium.ActionNotIntegerError, "expected a whole number for a discrete choice"),
    ]:
        found = np.argwhere(bad & read[..., None])
        if len(found):
            *row, entry = found[0]
            value = float(actions[tuple(found[0])])
            raise exception(f"{where(tuple(row))}: entry {entry} is {value!r}, {expected}")


def flat_size(space: spaces.Space) -> int:
    """Entries of a flat action row of `space`."""
    if isinstance(space, spaces.Discrete):
        return 1
    if isinstance(space, spaces.Tuple):
        return sum(flat_size(s) for s in space.spaces)
    return int(np.prod(space.shape))


def flatten_action(agent: str, space: spaces.Space, action: Any) -> np.ndarray:
    """`action` as a flat float64 row (discrete choices as whole numbers; a text part takes no
    entries, see `action_text`), or ActionShapeError or ActionDtypeError naming the agent. Values
    are checked by the engine, after `check_narrowing` (the engine's rows are float32)."""
    if isinstance(space, spaces.Text):
        if not isinstance(action, str):
            raise _socium.ActionDtypeError(f"{agent}: expected a string for {space}, found {action!r}")
        return np.zeros(0, np.float64)
    if isinstance(space, spaces.Tuple):
        if isinstance(action, (str, bytes)) or not hasattr(action, "__len__") or len(action) != len(space.spaces):
            raise _socium.ActionShapeError(
                f"{agent}: expected a tuple of {len(space.spaces)} parts for {space}, found {action!r}"
            )
        return np.concatenate([flatten_action(agent, part, value) for part, value in zip(space.spaces, action)])
    row = numeric(action).astype(np.float64).reshape(-1)
    if row.size != flat_size(space):
        raise _socium.ActionShapeError(f"{agent}: expected {flat_size(space)} values for {space}, found {action!r}")
    return row


def action_text(space: spaces.Space, action: Any) -> str | None:
    """The free text of an action whose space has a text part (checked by `flatten_action`)."""
    if isinstance(space, spaces.Tuple):
        for part, value in zip(space.spaces, action):
            if isinstance(part, spaces.Text):
                return value
    return None


class Core:
    """The Rust env, and its rows as read-only numpy arrays over its own buffers, written in place
    at every reset and step."""

    def __init__(
        self, scenario: str | os.PathLike, seeds: list[int], overrides: dict, text: bool = False, records: bool = True
    ):
        self.rust = _socium.RustVecEnv(
            os.fspath(scenario), override_pairs(overrides), seeds, text=text, records=records
        )
        self.spec = json.loads(self.rust.spec)
        self.num_envs = len(seeds)
        self.num_agents = len(self.spec["agents"])
        self.observation_space = gym_space(self.spec["observation_space"])
        self.action_space = gym_space(self.spec["action_space"])
        self.mask_dim = self.spec["mask_dim"]
        self.dimensions = self.spec["reward_dimensions"]
        (
            self.obs,
            self.masks,
            self.acting,
            self.rewards,
            self.reward_components,
            self.terminated,
            self.truncated,
            self.taken,
        ) = self.rust.outputs()
        self.actions = np.zeros((self.num_envs, self.num_agents, self.spec["action_dim"]), np.float32)
        self.discrete = discrete_entries(self.action_space)
        self.external = np.zeros(self.num_agents, bool)
        self.external[self.spec["external"]] = True

    def reset(self, seeds: list[int] | None) -> None:
        """Resets every env: env i with ``seeds[i]``, or continuing its random streams."""
        self.rust.reset(seeds)

    def step(self, actions: np.ndarray) -> None:
        """Steps every env with float32 ``actions`` of shape ``[envs, agents, action_dim]``."""
        self.rust.step(actions)

    def reads(self) -> np.ndarray:
        """Whose actions the next step reads, ``[envs, agents]``: the acting external agents of
        every env whose episode goes on (an env whose agents are all done is reset instead)."""
        over = (self.terminated | self.truncated).all(axis=1)
        return self.acting.astype(bool) & self.external & ~over[:, None]

    def actions_taken(self) -> np.ndarray:
        """Every agent's action at the last step: a read-only view, written in place by each step."""
        return self.taken

    def raw_rewards(self) -> np.ndarray:
        """Every agent's raw reward per dimension at the last step (its ledger entries summed,
        before any transform), ``[envs, agents, dims]`` float64, in a new array."""
        out = np.zeros((self.num_envs, self.num_agents, len(self.dimensions)), np.float64)
        self.rust.raw_rewards(out)
        return out

    def values(self) -> np.ndarray | None:
        """Every agent's value (``[values]``), ``[envs, agents]`` float64 in a new array, or None
        when the scenario gives agents no values."""
        out = np.zeros((self.num_envs, self.num_agents), np.float64)
        return out if self.rust.values(out) else None

    def utterances(self, env: int) -> list[dict]:
        """Env ``env``'s last step as transcript lines (the format of ``transcript.jsonl``): its
        controllers' faults, the entries settling earlier acts, then each act with the reward
        entries it caused (never the file's roles line)."""
        return json.loads(self.rust.utterances(env))
