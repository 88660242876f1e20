"""A Gymnasium vector env: N envs of one scenario stepped in parallel by Rust (GIL released), whose
results are read-only numpy arrays over the envs' own buffers, written in place at every step."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from socium._common import Core, check_narrowing, check_seed, check_seeds, numeric, scenario_seed
from socium._socium import ActionShapeError, env_seeds


class VecEnv(VectorEnv):
    """``num_envs`` envs of the scenario, every agent of each (a multi-agent env per slot).

    Arrays (the same read-only objects at every call, over the envs' own memory, which each step
    rewrites: copy what must outlive it): ``obs [envs, agents, obs_dim]`` float32,
    ``rewards``, ``terminated``, ``truncated [envs, agents]``; and in ``infos`` (a new dict each
    call over the same arrays): ``reward_components [envs, agents, dims]``,
    ``action_mask [envs, agents, mask_dim]`` (uint8) and ``acting [envs, agents]``. Actions are
    ``[envs, agents, action_dim]`` (float32 avoids a copy; ``[envs, agents]`` when each agent
    takes one entry); only the rows of external agents are read. A wider float that float32
    would change into a legal value (1.00000001 for a discrete choice) or into infinity is
    refused with its own value. An env whose episode ended is
    reset by the next step, which ignores its actions (Gymnasium's NEXT_STEP autoreset). Free
    text (an action space's ``Text`` part) travels through the PettingZoo env only: these numeric
    actions carry none. A step runs with the GIL released: while it does, other threads must not
    read the arrays (the step is writing them) or write the actions array it was given.

    ``single_observation_space`` and ``single_action_space`` are one env's (all its agents);
    ``agent_observation_space`` and ``agent_action_space`` one agent's. Where an agent's action
    space is a ``Tuple`` (an act and a belief, say), the action spaces give its parts batched, and
    ``step`` takes the flat form: the parts side by side in the last axis, a ``Discrete`` part one
    entry, a ``Text`` part none.

    ``records=False`` keeps no utterances or reward entries (``utterances`` refuses) unless the
    scenario's ``[ties]`` or ``[values]`` read them: the arrays and ``raw_rewards`` are the same,
    and a step stores nothing per act, for trainers that read only the arrays (a fifth less
    memory traffic a step in the donor game, docs/BENCHMARKS-LOG.md).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        scenario: str | os.PathLike,
        num_envs: int,
        seed: int | None = None,
        overrides: dict | None = None,
        seeds: list[int] | None = None,
        records: bool = True,
        **more_overrides: Any,
    ):
        """Env i is seeded ``env_seeds(seed, num_envs)[i]`` (``seed`` defaults to the scenario's),
        or ``seeds[i]`` when the seeds are given one by one."""
        if num_envs < 1:
            raise ValueError(f"num_envs {num_envs}: expected at least 1")
        self.scenario = os.fspath(scenario)
        self.overrides = {**(overrides or {}), **more_overrides}
        self.seed = check_seed(seed)
        self.seeds = None if seeds is None else check_seeds(seeds, num_envs, "seeds", "or no list")
        master = self.seed if self.seed is not None else scenario_seed(self.scenario, self.overrides)
        self._first_seeds = self.seeds if self.seeds is not None else env_seeds(master, num_envs)
        self.records = records
        self._core = Core(self.scenario, self._first_seeds, self.overrides, records=records)
        core = self._core
        self.num_envs = num_envs
        self.agent_labels = [a["label"] for a in core.spec["agents"]]
        self.external_agents = list(core.spec["external"])
        self.reward_dimensions = list(core.dimensions)
        self.agent_observation_space = core.observation_space
        self.agent_action_space = core.action_space
        self.single_observation_space = batch_space(core.observation_space, core.num_agents)
        self.single_action_space = batch_space(core.action_space, core.num_agents)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.render_mode = None
        self._started = False

    def __reduce__(self):
        """Pickles as (scenario, size, seeds, overrides, records): the copy is a new, unreset env."""
        return (_rebuild, (self.scenario, self.num_envs, self.seed, self.overrides, self.seeds, self.records))

    def __deepcopy__(self, memo):
        raise TypeError("a running socium VecEnv cannot be deep-copied; pickle it to rebuild it")

    def _infos(self) -> dict:
        core = self._core
        return {"reward_components": core.reward_components, "action_mask": core.masks, "acting": core.acting}

    def reset(self, seed: int | list[int] | None = None, options: dict | None = None):
        """Resets every env: with ``seed``, env i with ``env_seeds(seed, num_envs)[i]`` (or with
        ``seed[i]`` for a list); without, the first reset uses the VecEnv's seeds and later ones
        continue the random streams. ``options`` must be empty: every env is reset (Gymnasium's
        ``reset_mask`` is refused, not ignored)."""
        if options:
            raise ValueError(f"options {sorted(options)}: a VecEnv resets every env and takes no options")
        if isinstance(seed, (list, tuple)):
            seeds = check_seeds(seed, self.num_envs, "seed", "or no list (seed=None continues every env's streams)")
        elif seed is not None:
            seeds = env_seeds(check_seed(seed), self.num_envs)
        else:
            seeds = None if self._started else self._first_seeds
        self._started = True
        self._core.reset(seeds)
        return self._core.obs, self._infos()

    def step(self, actions: Any):
        """Steps every env; returns the same read-only arrays, written in place."""
        core = self._core
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = numeric(actions)
        if actions.shape == core.actions.shape[:2] and core.actions.shape[2] == 1:
            actions = actions[..., None]
        if actions.shape != core.actions.shape:
            raise ActionShapeError(f"actions: expected shape {core.actions.shape}, found {actions.shape}")
        if actions.dtype != np.float32 or not (actions.flags.c_contiguous and actions.flags.aligned):
            check_narrowing(actions, core.reads(), core.discrete, lambda at: f"env {at[0]}: agent {at[1]}")
            with np.errstate(over="ignore"):  # in rows the step does not read
                np.copyto(core.actions, actions, casting="unsafe")
            actions = core.actions
        core.step(actions)
        return core.obs, core.rewards, core.terminated, core.truncated, self._infos()

    def utterances(self, env: int) -> list[dict]:
        """Env ``env``'s last step as ``transcript.jsonl`` holds it, a dict a line: the faults of
        controllers that could not act (``{"episode", "step", "agent", "fault"}``: a language
        model that timed out played the game's default act), the reward entries settling acts of
        earlier steps (``{"episode", "step", "settles", "rewards"}``), then each act with the
        reward entries it caused (``{"episode", "id", "step", "speaker", "audience", "act",
        "text"?, "rewards"}``); never the file's roles line (hidden roles, which agents must not
        be handed). Built from the env's state at each call: the step never pays
        for it. Refused (RuntimeError) by a VecEnv made with ``records=False`` (unless its scenario
        has ``[ties]`` or ``[values]``, which keep the records)."""
        if not 0 <= env < self.num_envs:
            raise IndexError(f"env {env}: expected 0 to {self.num_envs - 1}")
        return self._core.utterances(env)

    def raw_rewards(self) -> np.ndarray:
        """Every agent's raw reward per dimension at the last step, before the scenario's
        transforms (``infos["reward_components"]`` holds them after): ``[envs, agents, dims]``
        float64, gathered into a new array at each call (the step itself never pays for it)."""
        return self._core.raw_rewards()

    def values(self) -> np.ndarray | None:
        """Every agent's value where the scenario has ``[values]`` (each drifts toward its
        partners' by bounded confidence), ``[envs, agents]`` float64 in a new array; None without
        values."""
        return self._core.values()

    def actions_taken(self) -> np.ndarray:
        """Every agent's action at the last step, ``[envs, agents, action_dim]`` float32: the
        external agents' as sent, and those that scripted strategies and ONNX policies chose (an
        env reset by the step keeps its episode's last actions). The same read-only array at each
        call, written in place by each step."""
        return self._core.actions_taken()

    def render(self) -> None:
        """Nothing: a VecEnv has no render mode (``render_mode`` is None, Gymnasium's "no
        rendering"); the PettingZoo env renders an env's acts as text, and
        ``utterances(env)`` gives them as data."""
        return None

    def close(self, **kwargs: Any) -> None:
        """Marks the VecEnv closed (Gymnasium's ``closed``); the engine frees the envs with this
        object."""
        self.closed = True


def _rebuild(scenario: str, num_envs: int, seed: int | None, overrides: dict, seeds, records: bool = True) -> VecEnv:
    return VecEnv(scenario, num_envs, seed=seed, overrides=overrides, seeds=seeds, records=records)
