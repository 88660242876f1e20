"""ONNX policies seen from Python: Socium's actions equal a numpy forward pass of the same
weights, a policy error is its own exception with nothing moved, and a learner can train among
ONNX opponents through the PettingZoo API."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from pettingzoo.test import parallel_api_test

import socium
from conftest import ROOT

MODEL = ROOT / "assets/policies/donor_mlp.onnx"


def donor_scenario(tmp_path, temperature=None):
    """The cultural donor game with punishment and refusal: 10 agents on donor_mlp.onnx, 2 scripted."""
    sampling = f"temperature = {temperature}" if temperature else ""
    path = tmp_path / "donor_policies.toml"
    path.write_text(
        f"""
[scenario]
name = "donor policies"
seed = 3
[game.donor_cultural]
punishment = true
refusal = true
[[agents]]
count = 10
policy = "{MODEL}"
{sampling}
[[agents]]
count = 2
strategy = "reciprocal"
"""
    )
    return path


def numpy_forward(obs, mask):
    """donor_mlp.onnx in numpy: tanh MLP 13 -> 32 -> 32 -> 4, logits of forbidden moves pushed
    down by 1e4 (as the model does with its action_mask input)."""
    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in onnx.load(MODEL).graph.initializer}
    h = np.tanh(obs @ w["w0"] + w["b0"])
    h = np.tanh(h @ w["w1"] + w["b1"])
    head = h @ w["w2"] + w["b2"]
    head[:, :3] += (mask - 1.0) @ (np.eye(3) * 1e4)
    return head


def test_actions_equal_a_numpy_forward_pass_over_a_batch_of_several_envs(tmp_path):
    env = socium.VecEnv(donor_scenario(tmp_path), num_envs=8, seed=4)
    obs, infos = env.reset()
    zero = np.zeros((8, 12, 2), np.float32)  # [envs, agents, action_dim]: no external rows
    compared = near_ties = 0
    for _ in range(24):  # one episode
        before = obs[:, :10].astype(np.float64).reshape(-1, 13)
        mask = infos["action_mask"][:, :10].astype(np.float64).reshape(-1, 3)
        acting = infos["acting"][:, :10].reshape(-1).copy()
        head = numpy_forward(before, mask)
        obs, _, _, _, infos = env.step(zero)
        taken = env.actions_taken()[:, :10].reshape(-1, 2)[acting]
        head = head[acting]
        # The share is the head's last value clipped to [0, 1]: equal to float32 precision.
        np.testing.assert_allclose(taken[:, 1], np.clip(head[:, 3], 0, 1), rtol=0, atol=1e-5)
        # The move is the argmax of the masked logits, wherever float32 cannot flip the order
        # (the top two logits more than 1e-4 apart).
        top2 = np.sort(head[:, :3], axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e-4
        np.testing.assert_array_equal(taken[clear, 0], head[clear, :3].argmax(1))
        compared += int(clear.sum())
        near_ties += int((~clear).sum())
    # Half the agents donate at each step: at least 90% of those rows were compared.
    assert compared >= 0.9 * 8 * 10 * 24 / 2, (compared, near_ties)


def test_a_nan_output_raises_policy_error_and_moves_nothing(tmp_path):
    path = tmp_path / "nan.toml"
    path.write_text(
        f"""
[scenario]
name = "nan"
[game.repeated]
[[agents]]
strategy = "tft"
[[agents]]
policy = "{ROOT / 'assets/policies/invalid/nan_output.onnx'}"
"""
    )
    env = socium.VecEnv(path, num_envs=2, seed=1)
    obs, _ = env.reset()
    before = obs.copy()
    with pytest.raises(socium.PolicyError, match=r"env 0: policy `nan_output.onnx` for agent 1: action head entry 1 is NaN"):
        env.step(np.zeros((2, 2), np.float32))
    np.testing.assert_array_equal(obs, before)


def test_a_bad_model_is_a_scenario_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        f"""
[scenario]
name = "bad"
[game.repeated]
[[agents]]
policy = "{ROOT / 'assets/policies/invalid/wrong_dtype.onnx'}"
[[agents]]
strategy = "tft"
"""
    )
    with pytest.raises(socium.ScenarioError, match=r"`agents\[0\]\.policy`: .*wrong_dtype.onnx: input `obs`: expected float32, found float64"):
        socium.VecEnv(path, num_envs=1)


def test_a_learner_among_onnx_opponents_passes_the_parallel_api_test():
    path = ROOT / "scenarios/ipd_learner_vs_onnx.toml"
    env = socium.parallel_env(path, seed=5)
    assert env.possible_agents == ["agent_0"]
    parallel_api_test(env, num_cycles=200)
