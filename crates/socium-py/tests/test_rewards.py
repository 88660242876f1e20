"""Reward design from Python: HERON's hierarchical preference (Bukharin et al. 2023), the same
function `socium run` labels episodes with; raw and transformed rewards per step."""

import numpy as np
import pytest

import socium
from conftest import ROOT


def test_heron_preference_follows_the_hierarchy_and_its_margins():
    order, margins = [0, 1], [1.0, 0.1]
    assert socium.heron_preference([5.0, 0.0], [2.0, 9.0], order, margins) == (0, 0)
    assert socium.heron_preference([5.0, 0.2], [4.5, 0.5], order, margins) == (1, 1)
    assert socium.heron_preference([5.0, 0.3], [4.0, 0.2], order, margins) is None
    with pytest.raises(ValueError, match="one length"):
        socium.heron_preference([1.0], [1.0, 2.0], [0], [0.0])


SCENARIO = ROOT / "scenarios/donor_learner.toml"
PAR = {"rewards.payoff.transform": {"par": {"reference": {"constant": 0}}}}


def test_raw_rewards_are_the_ledger_and_components_its_transform():
    """Per step, every agent's raw rewards are its ledger entries summed (the transcript lines'
    rewards), and with a PAR transform the components are σ(raw − 0) of them (Fu et al. 2025)."""
    env = socium.VecEnv(SCENARIO, 2, seed=3, overrides=PAR)
    env.reset()
    dims = env.reward_dimensions
    actions = np.full((2, len(env.agent_labels), 1), 0.5, np.float32)
    moved = 0
    for _ in range(30):
        _, _, _, _, infos = env.step(actions)
        raw = env.raw_rewards()
        payoff = dims.index("payoff")
        for e in range(2):
            lines = env._core.utterances(e)
            expected = np.zeros_like(raw[e])
            for line in lines:
                for r in line["rewards"]:
                    expected[r["agent"], dims.index(r["dimension"])] += r["value"]
            np.testing.assert_allclose(raw[e], expected, atol=1e-12)
            if lines:  # not the step that reset the env (Gymnasium's NEXT_STEP autoreset)
                np.testing.assert_allclose(
                    infos["reward_components"][e, :, payoff],
                    1 / (1 + np.exp(-raw[e, :, payoff])),
                    rtol=1e-5,
                    atol=1e-7,
                )
        moved += int(np.any(raw[..., payoff] != 0))
    assert moved > 10

    parallel = socium.parallel_env(SCENARIO, seed=3, overrides=PAR)
    parallel.reset()
    agent = parallel.agents[0]
    for _ in range(10):
        _, _, _, _, infos = parallel.step({agent: np.array([0.5], np.float32)})
        info = infos[agent]
        assert info["reward_components"]["payoff"] == pytest.approx(
            1 / (1 + np.exp(-info["reward_raw"]["payoff"])), rel=1e-5
        )
