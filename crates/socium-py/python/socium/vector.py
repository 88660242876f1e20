"""A Gymnasium-style vector env: N envs of one scenario stepped in parallel by Rust (GIL released)
into numpy arrays that Python owns and Rust writes in place."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

from socium._common import Core, numeric, scenario_seed
from socium._socium import ActionShapeError, env_seeds


class VecEnv:
    """``num_envs`` envs of the scenario, every agent of each.

    Arrays (the same objects at every call): ``obs [envs, agents, obs_dim]`` float32,
    ``rewards``, ``terminated``, ``truncated [envs, agents]``, and in ``infos``:
    ``reward_components [envs, agents, dims]``, ``action_mask [envs, agents, mask_dim]`` (uint8),
    ``acting [envs, agents]``. Actions are ``[envs, agents, action_dim]`` float32 (or
    ``[envs, agents]`` for one entry per agent); only external agents' rows are read. An env whose
    episode ended is reset by the next step, which ignores its actions (NEXT_STEP autoreset).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        scenario: str | os.PathLike,
        num_envs: int,
        seed: int | None = None,
        overrides: dict | None = None,
        seeds: list[int] | None = None,
        **more_overrides: Any,
    ):
        """Env i is seeded ``env_seeds(seed, num_envs)[i]`` (``seed`` defaults to the scenario's),
        or ``seeds[i]`` when the seeds are given one by one."""
        self._args = (os.fspath(scenario), num_envs, seed, {**(overrides or {}), **more_overrides}, seeds)
        if seeds is not None and len(seeds) != num_envs:
            raise ValueError(f"seeds: expected {num_envs} seeds, found {len(seeds)}")
        self._seed = seed if seed is not None else scenario_seed(scenario, self._args[3])
        self._seeds = list(seeds) if seeds is not None else env_seeds(self._seed, num_envs)
        self._core = Core(scenario, self._seeds, self._args[3])
        core = self._core
        self.num_envs = num_envs
        self.agents = [a["label"] for a in core.spec["agents"]]
        self.external_agents = list(core.spec["external"])
        self.single_observation_space = core.observation_space
        self.single_action_space = core.action_space
        self.reward_dimensions = list(core.dimensions)
        self._infos = {
            "reward_components": core.reward_components,
            "action_mask": core.masks,
            "acting": core.acting,
        }
        self._started = False

    def __reduce__(self):
        return (_rebuild, self._args)

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Resets every env, env i with ``socium.env_seeds(seed, num_envs)[i]``; the first reset
        without a seed uses the VecEnv's seed, later ones continue the random streams."""
        if seed is not None:
            seeds = env_seeds(seed, self.num_envs)
        else:
            seeds = None if self._started else self._seeds
        self._started = True
        self._core.reset(seeds)
        return self._core.obs, self._infos

    def step(self, actions: np.ndarray):
        core = self._core
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = numeric(actions)
        if actions.shape == core.actions.shape[:2] and core.act_dim == 1:
            actions = actions[..., None]
        if actions.shape != core.actions.shape:
            raise ActionShapeError(f"actions: expected shape {core.actions.shape}, found {actions.shape}")
        if actions.dtype != np.float32 or not actions.flags.c_contiguous:
            np.copyto(core.actions, actions, casting="same_kind" if actions.dtype.kind == "f" else "unsafe")
            actions = core.actions
        core.step(actions)
        return core.obs, core.rewards, core.terminated, core.truncated, self._infos

    def close(self) -> None:
        pass


def _rebuild(scenario: str, num_envs: int, seed: int | None, overrides: dict, seeds) -> VecEnv:
    return VecEnv(scenario, num_envs, seed=seed, overrides=overrides, seeds=seeds)
