"""The PettingZoo ParallelEnv over one Socium env: the trainer acts for the scenario's
``external`` agents; scripted and random agents act inside the engine."""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv as _PettingZooParallelEnv

from socium import _socium
from socium._common import Core, action_text, check_narrowing, check_seed, flatten_action, scenario_seed


def parallel_env(scenario: str | os.PathLike, seed: int | None = None, **overrides: Any) -> "ParallelEnv":
    """A PettingZoo ParallelEnv of the scenario file, with overrides checked like the file.

    The scenario needs at least one ``controller = "external"`` agent, the agents a trainer
    steps: without, ``socium.NoExternalAgentsError`` (a ``socium.ScenarioError``) is raised.
    """
    return ParallelEnv(scenario, seed=seed, **overrides)


_NO_EXTERNAL_AGENTS = """{scenario}: no external agents: every agent is scripted, random or an ONNX policy, \
so a PettingZoo env has nothing for a trainer to step. Mark the agents a trainer controls with \
`controller = "external"` in their `[[agents]]` group (docs/scenarios.md, section 5), e.g.

    [[agents]]
    controller = "external"

(or play the scenario as it is with `socium run`, or with `socium.VecEnv`, which steps every agent)"""


class ParallelEnv(_PettingZooParallelEnv):
    """PettingZoo's Parallel API over the engine.

    The PettingZoo agents are the scenario's ``controller = "external"`` agents, named
    ``agent_<id>`` after their ids in the scenario; a scenario without any raises
    ``socium.NoExternalAgentsError`` (a ``socium.ScenarioError``), since there would be nothing
    to step. Observations are float32 vectors, or ``{"observation", "action_mask"}`` dicts when
    the action space has discrete parts. ``infos[agent]`` holds ``reward_components`` (per reward
    dimension, by name, after the scenario's transforms), ``reward_raw`` (the same before them:
    the agent's ledger entries summed), ``acting`` (whether the agent's action counted this
    step) and, where the scenario gives agents values (``[values]``), ``value``;
    ``utterances()`` gives the step's acts.

    The env seeded ``s`` is the Rust ``Sim`` seeded ``s`` (``seed`` defaults to the scenario's).
    Note that env i of ``VecEnv(..., seed=s)`` is seeded ``env_seeds(s, n)[i]`` instead.
    """

    metadata = {"name": "socium_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(
        self,
        scenario: str | os.PathLike,
        seed: int | None = None,
        render_mode: str | None = None,
        overrides: dict | None = None,
        **more_overrides: Any,
    ):
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode {render_mode!r}: expected None or 'ansi'")
        self.scenario = os.fspath(scenario)
        self.overrides = {**(overrides or {}), **more_overrides}
        self.seed = check_seed(seed)
        self.render_mode = render_mode
        self._first_seed = self.seed if self.seed is not None else scenario_seed(self.scenario, self.overrides)
        self._core = Core(self.scenario, [self._first_seed], self.overrides, text=render_mode == "ansi")
        core = self._core
        if not core.spec["external"]:
            raise _socium.NoExternalAgentsError(_NO_EXTERNAL_AGENTS.format(scenario=self.scenario))
        self._ids = {f"agent_{a}": a for a in core.spec["external"]}
        self.possible_agents = list(self._ids)
        self.agents: list[str] = []
        self._started = False
        if core.mask_dim:
            obs_space: spaces.Space = spaces.Dict(
                {
                    "observation": core.observation_space,
                    "action_mask": spaces.Box(0, 1, (core.mask_dim,), np.int8),
                }
            )
        else:
            obs_space = core.observation_space
        self._observation_spaces = {a: obs_space for a in self.possible_agents}
        self._action_spaces = {a: core.action_space for a in self.possible_agents}
        self.state_space = spaces.Box(
            np.tile(core.observation_space.low, core.num_agents),
            np.tile(core.observation_space.high, core.num_agents),
            dtype=np.float32,
        )

    def __reduce__(self):
        """Pickles as (scenario, seed, render mode, overrides): the copy is a new, unreset env."""
        return (_rebuild, (self.scenario, self.seed, self.render_mode, self.overrides))

    def __deepcopy__(self, memo):
        raise TypeError("a running socium env cannot be deep-copied; pickle it to rebuild it from its scenario")

    def observation_space(self, agent: str) -> spaces.Space:
        """The agent's observation space (the same object at every call)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """The agent's action space (the same object at every call)."""
        return self._action_spaces[agent]

    def _observe(self, agent: str):
        a = self._ids[agent]
        obs = self._core.obs[0, a].copy()
        if self._core.mask_dim:
            return {"observation": obs, "action_mask": self._core.masks[0, a].astype(np.int8)}
        return obs

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Starts an episode: with a seed, every random stream restarts from it; without, the
        first reset uses the env's seed and later ones continue the streams."""
        seed = check_seed(seed)
        if seed is None and not self._started:
            seed = self._first_seed
        self._started = True
        self._core.reset(None if seed is None else [seed])
        core = self._core
        self.agents = [
            a for a in self.possible_agents if not (core.terminated[0, self._ids[a]] or core.truncated[0, self._ids[a]])
        ]
        return {a: self._observe(a) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        """One step: every live agent must have an action (those that are not acting this step
        may give any legal action; it is ignored). A refused step changes nothing."""
        self._check_actions(actions)
        core = self._core
        rows = {agent: flatten_action(agent, core.action_space, actions[agent]) for agent in self.agents}
        reads = core.reads()[0]
        for agent, row in rows.items():
            if reads[self._ids[agent]]:
                check_narrowing(row[None], np.ones(1, bool), core.discrete, lambda _: agent)
        texts = {agent: action_text(core.action_space, actions[agent]) for agent in self.agents}
        return self._step_rows(rows, texts)

    def _check_actions(self, actions: dict[str, Any]) -> None:
        """Refuses a step before reset, after the end, or with unknown or missing agents."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            raise RuntimeError("every agent is done: call reset() before stepping again")
        unknown = set(actions) - set(self._ids)
        if unknown:
            raise KeyError(f"{sorted(unknown)} are not agents of this env {self.possible_agents}")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise KeyError(f"no action for live agents {missing}")

    def _step_rows(self, rows: dict[str, np.ndarray], texts: dict[str, str | None]):
        """One step with every live agent's flat action row and text; a refused step changes
        nothing."""
        core = self._core
        with np.errstate(over="ignore"):  # in rows the step does not read
            for agent, row in rows.items():
                core.actions[0, self._ids[agent]] = row
        live = self.agents
        # Whose actions count at this step: the step overwrites the flags with the next step's.
        acting = core.acting[0].copy()
        try:
            for agent, text in texts.items():
                if text is not None:
                    core.rust.set_text(0, self._ids[agent], text)
            core.step(core.actions)
        except Exception as e:
            # A refused step leaves nothing behind, whoever refused it (the actions' checks or a
            # policy): a text set for it must not go with the next step.
            core.rust.clear_texts()
            if isinstance(e, _socium.ActionError):
                # "env 0: agent 3: ..." -> "agent_3: ..." in PettingZoo's names.
                raise type(e)(re.sub(r"^env 0: agent (\d+):", r"agent_\1:", str(e))) from None
            raise
        rewards, terminations, truncations, infos = {}, {}, {}, {}
        raw = core.raw_rewards()[0]
        values = core.values()
        for agent in live:
            a = self._ids[agent]
            rewards[agent] = float(core.rewards[0, a])
            terminations[agent] = bool(core.terminated[0, a])
            truncations[agent] = bool(core.truncated[0, a])
            infos[agent] = {
                "reward_components": dict(zip(core.dimensions, core.reward_components[0, a].tolist())),
                "reward_raw": dict(zip(core.dimensions, raw[a].tolist())),
                "acting": bool(acting[a]),
            }
            if values is not None:
                infos[agent]["value"] = float(values[0, a])
        observations = {agent: self._observe(agent) for agent in live}
        self.agents = [a for a in live if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def utterances(self) -> list[dict]:
        """The last step's transcript lines, as ``transcript.jsonl`` holds them: each act
        (``{"episode", "id", "step", "speaker", "audience", "act", "text"?, "rewards"}``) with the
        reward entries it caused, after the entries settling acts of earlier steps
        (``{"episode", "step", "settles": id, "rewards"}``: a listener's reward for a message, say)
        and, first of all, the faults of controllers that could not act (``{"episode", "step",
        "agent", "fault"}``: a language model that timed out played the game's default act). Not
        the episode's roles line (Mafia's, Among Us's hidden roles), which only the file holds:
        what a trainer reads here it may hand its agents."""
        return self._core.utterances(0)

    def render(self) -> str | None:
        """The last step's acts as text (rendered text where the game gives it)."""
        if self.render_mode is None:
            return None
        lines = []
        for entry in self.utterances():
            if "fault" in entry:
                lines.append(f"[step {entry['step']}] agent {entry['agent']} played the default act: {entry['fault']}")
                continue
            if "settles" in entry:
                rewards = ", ".join(f"{r['dimension']} {r['value']:+g} to agent {r['agent']}" for r in entry["rewards"])
                lines.append(f"(for utterance {entry['settles']}: {rewards})")
                continue
            u = entry
            act = u["act"]
            text = u.get("text") or f"agent {u['speaker']} {act['kind']} agent {act['target']} ({act['value']:g})"
            lines.append(f"[step {u['step']}] {text}")
        return "\n".join(lines)

    def state(self) -> np.ndarray:
        """Every agent's observation (scripted agents' too), concatenated."""
        return self._core.obs[0].reshape(-1).copy()

    def close(self) -> None:
        """Nothing to release: the engine frees the env with this object."""


def _rebuild(scenario: str, seed: int | None, render_mode: str | None, overrides: dict) -> ParallelEnv:
    return ParallelEnv(scenario, seed=seed, render_mode=render_mode, overrides=overrides)
