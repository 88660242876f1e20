"""Envs pickle as (scenario, overrides, seed) and rebuild in another process, so Ray workers and
SuperSuit can use them; a rebuilt env keeps its seed: its first reset plays as the original's."""

import pickle
import subprocess
import sys

import numpy as np

import socium
from conftest import ROOT

ROLLOUT = """
import pickle, sys
import numpy as np
env = pickle.loads(sys.stdin.buffer.read())
{body}
"""

# The first reset takes no seed: the env's own (the one pickled) decides the rollout.
PARALLEL_BODY = """
obs, _ = env.reset()
out = []
for t in range(40):
    if not env.agents:
        env.reset()
    _, rewards, *_ = env.step({a: t % 2 for a in env.agents})
    out.append(sorted(rewards.items()))
sys.stdout.write(repr(out))
"""

VECTOR_BODY = """
env.reset()
total = np.zeros_like(env.step(np.ones((3, 8), np.float32))[1])
for t in range(40):
    total += env.step(np.full((3, 8), t % 2, np.float32))[1]
sys.stdout.write(repr(total.tolist()))
"""


def in_subprocess(env, body: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", ROLLOUT.format(body=body)],
        input=pickle.dumps(env),
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


def here(env, body: str) -> str:
    import io
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(body, {"env": env, "np": np, "sys": sys})
    return out.getvalue()


def test_parallel_env_pickles_and_continues_deterministically():
    env = socium.parallel_env(ROOT / "scenarios/ipd_learner.toml", seed=3, noise=0.05)
    env.reset()
    env.step({a: 0 for a in env.agents})  # state before pickling does not matter
    expected = here(socium.parallel_env(ROOT / "scenarios/ipd_learner.toml", seed=3, noise=0.05), PARALLEL_BODY)
    other = here(socium.parallel_env(ROOT / "scenarios/ipd_learner.toml", seed=4, noise=0.05), PARALLEL_BODY)
    assert other != expected, "the seed must matter for the check to mean anything"
    assert in_subprocess(env, PARALLEL_BODY) == expected


def test_vector_env_pickles_and_continues_deterministically():
    env = socium.VecEnv(ROOT / "scenarios/ipd_learner.toml", 3, seed=4, noise=0.05)
    expected = here(socium.VecEnv(ROOT / "scenarios/ipd_learner.toml", 3, seed=4, noise=0.05), VECTOR_BODY)
    other = here(socium.VecEnv(ROOT / "scenarios/ipd_learner.toml", 3, seed=5, noise=0.05), VECTOR_BODY)
    assert other != expected, "the seed must matter for the check to mean anything"
    assert in_subprocess(env, VECTOR_BODY) == expected
