"""The text env: PettingZoo's API with prompts as observations and answers as actions, parsed as
the `llm` controller parses them; the same acts in text and in numbers give the same rewards."""

import json

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import socium
from conftest import ROOT

LEARNER = ROOT / "scenarios/negotiation_learner.toml"


def test_the_text_env_passes_the_parallel_api_test():
    parallel_api_test(socium.text_env(LEARNER), num_cycles=300)


def first_legal(mask):
    """The first legal act, or 0 for an agent that is not acting (its action is ignored)."""
    legal = np.flatnonzero(mask)
    return int(legal[0]) if legal.size else 0


def test_acts_in_text_give_the_rewards_of_the_same_acts_in_numbers():
    numbers = socium.parallel_env(LEARNER, seed=5)
    text = socium.text_env(LEARNER, seed=5)
    obs, _ = numbers.reset(seed=5)
    text.reset(seed=5)
    steps = 0
    while numbers.agents:
        acts = {a: first_legal(o["action_mask"]) for a, o in obs.items()}
        obs, r1, term1, trunc1, info1 = numbers.step({a: (act, "hi") for a, act in acts.items()})
        _, r2, term2, trunc2, info2 = text.step({a: json.dumps({"act": act, "say": "hi"}) for a, act in acts.items()})
        assert r1 == r2 and term1 == term2 and trunc1 == trunc2
        for a in r1:
            assert info1[a]["reward_components"] == info2[a]["reward_components"]
            assert info2[a]["answer_error"] is None
        assert numbers.utterances() == text.utterances()
        steps += 1
    assert steps > 1


def test_the_prompt_names_the_legal_acts_and_how_to_answer():
    env = socium.text_env(LEARNER, seed=2)
    obs, infos = env.reset(seed=2)
    (agent,) = obs
    # The partner may speak first: no legal act is listed while the learner waits.
    if not env._core.acting[0, env._ids[agent]]:
        assert "Your legal acts" not in obs[agent]
        obs, _, _, _, infos = env.step({agent: "{}"})
    assert "Your legal acts" in obs[agent] and '"act"' in obs[agent]
    messages = infos[agent]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert obs[agent] == messages[0]["content"] + "\n\n" + messages[1]["content"]


def wait_for_turn(env, agent, most=10):
    """Steps (answering nothing the learner could say) until `agent` acts: the partner may speak
    first. Fails after `most` steps rather than looping."""
    for _ in range(most):
        if env._core.acting[0, env._ids[agent]]:
            return
        env.step({agent: "{}"})
    pytest.fail(f"{agent} did not get a turn in {most} steps")


def test_bad_answers_play_the_default_act_or_raise():
    env = socium.text_env(LEARNER, seed=2)
    obs, _ = env.reset(seed=2)
    (agent,) = obs
    wait_for_turn(env, agent)
    _, _, _, _, infos = env.step({agent: "I would rather not say."})
    assert "no JSON object" in infos[agent]["answer_error"]
    assert infos[agent]["bad_answers"] == 1
    (line,) = [u for u in env.utterances() if u.get("speaker") == 0]
    assert line["act"]["kind"] == "pass"

    strict = socium.text_env(LEARNER, seed=2, on_bad_text="raise")
    obs, _ = strict.reset(seed=2)
    wait_for_turn(strict, agent)
    before = strict.state()
    with pytest.raises(socium.AnswerError, match="agent_0: `act` must be a whole number below 149, found 999"):
        strict.step({agent: json.dumps({"act": 999, "say": ""})})
    assert np.array_equal(strict.state(), before)
    with pytest.raises(ValueError, match="on_bad_text"):
        socium.text_env(LEARNER, on_bad_text="ignore")


def test_a_refused_step_counts_no_bad_answer():
    # Two learners: agent_0's text is bad, agent_1's is no text at all, so the step is refused;
    # the step taken after it counts agent_0's bad answers from zero.
    env = socium.text_env(ROOT / "scenarios/ipd_learner.toml", seed=1)
    env.reset(seed=1)
    assert env.agents == ["agent_0", "agent_1"]
    with pytest.raises(socium.ActionDtypeError):
        env.step({"agent_0": "garbage", "agent_1": 5})
    _, _, _, _, infos = env.step({"agent_0": '{"act": 0}', "agent_1": '{"act": 0}'})
    assert infos["agent_0"]["bad_answers"] == 0
