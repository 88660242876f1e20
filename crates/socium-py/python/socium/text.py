"""PettingZoo's Parallel API in text, for trainers that run their own language model (TRL, verl,
OpenRLHF): each external agent observes its prompt — the game in words, exactly what Socium's
``llm`` controller sends a server — and acts with the text of its answer, parsed by the same
parser. Rewards are the engine's, per utterance and per dimension (``infos[agent]
["reward_components"]``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from socium import _socium
from socium.env import ParallelEnv
from socium.spaces import FreeText

#: The longest prompt an observation holds, in characters.
PROMPT_CHARS = 1_000_000
#: The longest answer taken, in characters.
ANSWER_CHARS = 100_000


class AnswerError(_socium.ActionError):
    """An answer that could not be parsed (with ``on_bad_text="raise"``); nothing moved."""


def text_env(
    scenario: str | os.PathLike, seed: int | None = None, on_bad_text: str = "default", **overrides: Any
) -> "TextParallelEnv":
    """A PettingZoo ParallelEnv of the scenario file whose agents read prompts and answer in text.

    ``on_bad_text="default"`` plays an answer that cannot be parsed as the game's default act
    and says why in ``infos[agent]["answer_error"]`` (counted in ``infos[agent]["bad_answers"]``);
    ``"raise"`` raises ``AnswerError`` instead, with nothing moved.
    """
    return TextParallelEnv(scenario, seed=seed, on_bad_text=on_bad_text, **overrides)


class TextParallelEnv(ParallelEnv):
    """The scenario's ``external`` agents act in text.

    An observation is the agent's prompt (the system message, a blank line, the user message),
    and ``infos[agent]["messages"]`` holds the same as chat messages. An action is the answer: a
    JSON object with the keys the prompt names (``act``, and ``amount``, ``belief`` or ``say``
    where the game has them), found anywhere in the text. Agents that are not acting this step
    may answer anything; it is ignored.
    """

    def __init__(self, scenario: str | os.PathLike, seed: int | None = None, on_bad_text: str = "default", **kw: Any):
        if on_bad_text not in ("default", "raise"):
            raise ValueError(f"on_bad_text {on_bad_text!r}: expected 'default' or 'raise'")
        super().__init__(scenario, seed=seed, **kw)
        self.on_bad_text = on_bad_text
        self._bad_answers = {a: 0 for a in self.possible_agents}
        prompt, answer = FreeText(PROMPT_CHARS), FreeText(ANSWER_CHARS)
        self._observation_spaces = {a: prompt for a in self.possible_agents}
        self._action_spaces = {a: answer for a in self.possible_agents}

    def __reduce__(self):
        return (_rebuild, (self.scenario, self.seed, self.on_bad_text, self.render_mode, self.overrides))

    def _messages(self, agent: str) -> tuple[str, str]:
        return self._core.rust.prompt(0, self._ids[agent])

    def _observe(self, agent: str) -> str:
        system, user = self._messages(agent)
        return f"{system}\n\n{user}"

    def _chat(self, agent: str) -> list[dict]:
        system, user = self._messages(agent)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Starts an episode (see ``ParallelEnv.reset``); ``infos[agent]["messages"]`` holds the
        prompt as chat messages."""
        observations, _ = super().reset(seed=seed, options=options)
        self._bad_answers = {a: 0 for a in self.possible_agents}
        return observations, {a: {"messages": self._chat(a)} for a in self.agents}

    def step(self, actions: dict[str, str]):
        """One step with every live agent's answer text."""
        self._check_actions(actions)
        core = self._core
        rows, texts, errors = {}, {}, {}
        for agent in self.agents:
            answer = actions[agent]
            if not isinstance(answer, str):
                raise _socium.ActionDtypeError(f"{agent}: expected the answer's text, found {answer!r}")
            row, say, error = core.rust.answer(0, self._ids[agent], answer)
            acting = bool(core.acting[0, self._ids[agent]])
            if error is not None and acting and self.on_bad_text == "raise":
                raise AnswerError(f"{agent}: {error}")
            rows[agent] = np.asarray(row, np.float32)
            texts[agent] = say
            errors[agent] = error if acting else None
        observations, rewards, terminations, truncations, infos = self._step_rows(rows, texts)
        # Counted once the step is taken: a refused step changes nothing.
        for agent, error in errors.items():
            self._bad_answers[agent] += error is not None
        for agent, info in infos.items():
            info["answer_error"] = errors[agent]
            info["bad_answers"] = self._bad_answers[agent]
            info["messages"] = self._chat(agent)
        return observations, rewards, terminations, truncations, infos


def _rebuild(scenario, seed, on_bad_text, render_mode, overrides) -> TextParallelEnv:
    return TextParallelEnv(scenario, seed=seed, on_bad_text=on_bad_text, render_mode=render_mode, overrides=overrides)
