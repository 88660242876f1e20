"""Bad actions raise their own exception naming the agent and the value, and change nothing."""

import numpy as np
import pytest

import socium
from conftest import ROOT

IPD = ROOT / "scenarios/ipd_learner.toml"
DONOR = ROOT / "scenarios/donor_learner.toml"


def snapshot(env):
    core = env._core
    return [b.copy() for b in core.buffers()]


@pytest.mark.parametrize(
    "action, error, message",
    [
        (2, socium.ActionOutOfRangeError, "agent 0: entry 0 is 2, expected a value in [0, 1]"),
        (0.5, socium.ActionNotIntegerError, "agent 0: entry 0 is 0.5, expected a whole number"),
        (float("nan"), socium.ActionNotFiniteError, "agent 0: entry 0 is NaN, expected a finite number"),
        ([0, 1], ValueError, "could not broadcast"),
    ],
)
def test_parallel_env_refuses_bad_actions(action, error, message):
    env = socium.parallel_env(IPD, seed=1)
    env.reset()
    before = snapshot(env)
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        env.step({"agent_0": action, "agent_1": 1})
    for a, b in zip(before, snapshot(env)):
        np.testing.assert_array_equal(a, b)
    # The env goes on as if the bad step had not been tried.
    fresh = socium.parallel_env(IPD, seed=1)
    fresh.reset()
    assert env.step({"agent_0": 1, "agent_1": 1})[1] == fresh.step({"agent_0": 1, "agent_1": 1})[1]


def test_vector_env_refuses_a_bad_move_in_a_tuple_action():
    # Tuple(Discrete(2), Box(1)): give or punish, and the share. No bundled game forbids an act
    # to an acting agent, so MaskedActionError is exercised by the Rust tests of `Space::check`.
    env = socium.VecEnv(DONOR, 2, seed=3, punishment=True)
    env.reset()
    assert env._core.acting[:, 0].any(), "the learner donates in some env"
    actions = np.zeros((2, 12, 2), np.float32)
    actions[:, :, 0] = 5.0  # no fifth move
    before = snapshot(env)
    with pytest.raises(socium.ActionOutOfRangeError, match=r"env \d: agent 0: entry 0 is 5"):
        env.step(actions)
    for a, b in zip(before, snapshot(env)):
        np.testing.assert_array_equal(a, b)


def test_non_numbers_are_refused():
    env = socium.parallel_env(IPD, seed=1)
    env.reset()
    with pytest.raises(socium.ActionDtypeError, match="expected numbers"):
        env.step({"agent_0": "cooperate", "agent_1": 1})
    vec = socium.VecEnv(IPD, 2, seed=1)
    vec.reset()
    with pytest.raises(socium.ActionDtypeError, match="dtype <U1"):
        vec.step(np.full((2, 8), "C"))


def test_vector_env_refuses_wrong_shapes():
    env = socium.VecEnv(IPD, 2, seed=1)
    env.reset()
    with pytest.raises(socium.ActionShapeError, match=r"expected shape \(2, 8, 1\), found \(2, 7\)"):
        env.step(np.zeros((2, 7), np.float32))


def test_unknown_agents_and_stepping_after_the_end():
    env = socium.parallel_env(IPD, seed=1, turns=1)
    env.reset()
    with pytest.raises(KeyError, match="agent_9"):
        env.step({"agent_9": 0})
    env.step({a: 0 for a in env.agents})
    assert env.agents == []
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({})
