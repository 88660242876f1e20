"""Bad actions raise their own exception naming the agent and the value, and change nothing: an
env that refused a step goes on exactly like one that never saw it."""

import numpy as np
import pytest

import socium
from conftest import ROOT

IPD = ROOT / "scenarios/ipd_learner.toml"
DONOR = ROOT / "scenarios/donor_learner.toml"


def play(env, steps, seed):
    """Plays `steps` steps of random legal moves (resetting when done); returns all it saw."""
    rng = np.random.default_rng(seed)
    seen = []
    for _ in range(steps):
        if not env.agents:
            env.reset()
        obs, rewards, *_ = env.step({a: int(rng.integers(0, 2)) for a in env.agents})
        seen.append((sorted(rewards.items()), [o["observation"].tolist() for o in obs.values()]))
    return seen


@pytest.mark.parametrize(
    "action, error, message",
    [
        (2, socium.ActionOutOfRangeError, r"agent_0: entry 0 is 2, expected a value in \[0, 1\]"),
        (0.5, socium.ActionNotIntegerError, "agent_0: entry 0 is 0.5, expected a whole number"),
        # What float32 would round to a whole number, or to infinity, is refused as given.
        (1.00000001, socium.ActionNotIntegerError, "agent_0: entry 0 is 1.00000001, expected a whole"),
        (1e300, socium.ActionOutOfRangeError, "agent_0: entry 0 is 1e[+]?300, beyond float32's range"),
        (float("nan"), socium.ActionNotFiniteError, "agent_0: entry 0 is NaN, expected a finite number"),
        ([0, 1], socium.ActionShapeError, "agent_0: expected 1 values for Discrete"),
        ("cooperate", socium.ActionDtypeError, "expected numbers"),
    ],
)
def test_parallel_env_refuses_bad_actions_and_goes_on_unchanged(action, error, message):
    env, fresh = socium.parallel_env(IPD, seed=1), socium.parallel_env(IPD, seed=1)
    env.reset()
    fresh.reset()
    play(env, 3, seed=0), play(fresh, 3, seed=0)
    with pytest.raises(error, match=message):
        env.step({"agent_0": action, "agent_1": 1})
    assert play(env, 60, seed=1) == play(fresh, 60, seed=1)


def test_missing_unknown_and_malformed_actions():
    env = socium.parallel_env(IPD, seed=1)
    env.reset()
    with pytest.raises(KeyError, match="agent_9"):
        env.step({"agent_0": 0, "agent_1": 0, "agent_9": 0})
    with pytest.raises(KeyError, match=r"no action for live agents \['agent_1'\]"):
        env.step({"agent_0": 0})
    donor = socium.parallel_env(DONOR, seed=1, punishment=True)
    donor.reset()
    with pytest.raises(socium.ActionShapeError, match="agent_0: expected a tuple of 2 parts"):
        donor.step({"agent_0": (0,)})
    with pytest.raises(socium.ActionShapeError, match="agent_0: expected a tuple of 2 parts"):
        donor.step({"agent_0": 1})


def test_vector_env_refuses_a_bad_action_in_one_env_and_moves_none():
    env, fresh = socium.VecEnv(IPD, 3, seed=2), socium.VecEnv(IPD, 3, seed=2)
    env.reset()
    fresh.reset()
    actions = np.ones((3, 8, 1), np.float32)
    env.step(actions), fresh.step(actions)
    for value, error in ((float("nan"), socium.ActionNotFiniteError), (0.5, socium.ActionNotIntegerError)):
        bad = actions.copy()
        bad[1, 0, 0] = value
        with pytest.raises(error, match=r"env 1: agent 0: entry 0 is"):
            env.step(bad)
    rng = np.random.default_rng(3)
    for _ in range(60):
        moves = rng.integers(0, 2, (3, 8, 1)).astype(np.float32)
        for x, y in zip(env.step(moves)[:4], fresh.step(moves)[:4]):
            np.testing.assert_array_equal(x, y)


def test_vector_env_refuses_what_float32_would_hide_in_the_rows_it_reads():
    """A float64 action that float32 would round to a whole number (a discrete choice) or to
    infinity is refused with its own value, in the rows a step reads; the others are ignored as
    they always are (a scripted agent's row, an env that resets)."""
    env, fresh = socium.VecEnv(IPD, 3, seed=2), socium.VecEnv(IPD, 3, seed=2)
    env.reset()
    fresh.reset()
    actions = np.ones((3, 8, 1), np.float64)
    for value, error, message in (
        (1.00000001, socium.ActionNotIntegerError, "is 1.00000001, expected a whole number"),
        (-1e300, socium.ActionOutOfRangeError, "is -1e[+]?300, beyond float32's range"),
        (float(np.finfo(np.float32).max) * (1 + 2.0**-24), socium.ActionOutOfRangeError, r"is 3.40\d+e\+38, beyond"),
    ):
        bad = actions.copy()
        bad[2, 0, 0] = value
        with pytest.raises(error, match=rf"env 2: agent 0: entry 0 {message}"):
            env.step(bad)
    # Where float32 keeps it finite, the engine's own range check speaks.
    bad = actions.copy()
    bad[2, 0, 0] = float(np.finfo(np.float32).max)
    with pytest.raises(socium.ActionOutOfRangeError, match=r"env 2: agent 0: entry 0 is 3402823\d+, expected a value in"):
        env.step(bad)
    scripted = actions.copy()
    scripted[:, 2:, 0] = 1e300  # agents 2..7 are scripted: their rows are not read
    for x, y in zip(env.step(scripted)[:4], fresh.step(actions)[:4]):
        np.testing.assert_array_equal(x, y)
    short = socium.VecEnv(IPD, 2, seed=2, turns=1)
    short.reset()
    short.step(np.ones((2, 8, 1)))
    short.step(np.full((2, 8, 1), 1e300))  # every env resets: no row is read


def test_vector_env_refuses_wrong_shapes():
    env = socium.VecEnv(IPD, 2, seed=1)
    env.reset()
    with pytest.raises(socium.ActionShapeError, match=r"expected shape \(2, 8, 1\), found \(2, 7\)"):
        env.step(np.zeros((2, 7), np.float32))
    with pytest.raises(socium.ActionDtypeError, match="dtype <U1"):
        env.step(np.full((2, 8), "C"))


def test_stepping_outside_an_episode():
    env = socium.parallel_env(IPD, seed=1, turns=1)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({})
    env.reset()
    env.step({a: 0 for a in env.agents})
    assert env.agents == []
    with pytest.raises(RuntimeError, match="every agent is done"):
        env.step({})


def test_a_belief_that_is_not_a_distribution_is_refused():
    among_us = ROOT / "scenarios/among_us_learner.toml"
    env, fresh = socium.parallel_env(among_us, seed=3), socium.parallel_env(among_us, seed=3)
    env.reset()
    fresh.reset()
    message = r"agent_0: entries 1\.\.6 sum to 2\.5, expected a probability distribution summing to 1"
    with pytest.raises(socium.ActionNotADistributionError, match=message):
        env.step({"agent_0": (0, np.full(5, 0.5))})
    wait = (0, np.full(5, 0.2))  # waiting is legal whenever the learner acts
    for _ in range(30):
        if not env.agents:
            break
        assert str(env.step({"agent_0": wait})) == str(fresh.step({"agent_0": wait}))
