"""The same seed gives the same observations and rewards through the PettingZoo env, the vector
env and the Rust API. The Rust traces are written by tests/python_parity.rs, which
`scripts/test` runs just before this suite; run it again after changing the engine."""

import json

import numpy as np
import pytest

import socium
from conftest import ROOT

CASES = ["donor_learner", "ipd_learner"]


def rust_trace(name):
    path = ROOT / "target/python-parity" / f"{name}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo test --test python_parity` first (scripts/test does)")
    return json.loads(path.read_text())


def action(name, t):
    return 0.3 if name == "donor_learner" else float(t % 2)


@pytest.mark.parametrize("name", CASES)
def test_python_env_and_vector_env_equal_rust(name):
    trace = rust_trace(name)
    seed = trace["seed"]
    scenario = ROOT / "scenarios" / f"{name}.toml"
    env = socium.parallel_env(scenario, seed=seed)
    vec = socium.VecEnv(scenario, 1, seeds=[seed])
    env.reset()
    vec.reset()
    n = len(vec.agent_labels)
    for t, expected in enumerate(trace["steps"]):
        if not env.agents:
            env.reset()
            vec.step(np.zeros((1, n, 1), np.float32))  # NEXT_STEP: this call resets
        value = action(name, t)
        env_obs, rewards, *_ = env.step(
            {a: np.array([value], np.float32) if name == "donor_learner" else int(value) for a in env.agents}
        )
        actions = np.zeros((1, n, 1), np.float32)
        actions[0, vec.external_agents, 0] = value
        obs, vec_rewards, terminated, *_ = vec.step(actions)
        want_obs = np.array(expected["obs"], np.float32).reshape(n, -1)
        np.testing.assert_array_equal(obs[0], want_obs, err_msg=f"{name} step {t}")
        np.testing.assert_array_equal(vec_rewards[0], np.array(expected["rewards"], np.float32))
        np.testing.assert_array_equal(terminated[0], np.array(expected["terminated"]))
        for agent, r in rewards.items():
            a = int(agent.split("_")[1])
            assert np.float32(r) == vec_rewards[0, a]
            seen = env_obs[agent]["observation"] if isinstance(env_obs[agent], dict) else env_obs[agent]
            np.testing.assert_array_equal(seen, want_obs[a])
