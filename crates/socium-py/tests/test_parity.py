"""The same seed gives the same observations and rewards through the PettingZoo env, the vector
env and the Rust API. The Rust side is produced in the same run, by `cargo run --example
parity_trace` (examples/parity_trace.rs), so the two sides always come from the same engine."""

import json
import shutil
import subprocess

import numpy as np
import pytest

import socium
from conftest import ROOT

# The steps examples/parity_trace.rs traces of each case.
CASES = {"donor_learner": 60, "ipd_learner": 120}


@pytest.fixture(scope="module")
def rust_traces(tmp_path_factory):
    """The Rust API's traces of every case, written now by the example."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not on PATH: the Rust side of the parity test is built with it")
    out = tmp_path_factory.mktemp("parity")
    subprocess.run(["cargo", "run", "-q", "--example", "parity_trace", "--", str(out)], cwd=ROOT, check=True)
    return {name: json.loads((out / f"{name}.json").read_text()) for name in CASES}


def action(name, t):
    return 0.3 if name == "donor_learner" else float(t % 2)


@pytest.mark.parametrize("name", CASES)
def test_python_env_and_vector_env_equal_rust(name, rust_traces):
    trace = rust_traces[name]
    assert len(trace["steps"]) == CASES[name]
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
