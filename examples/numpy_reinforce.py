"""A learner in plain numpy: REINFORCE over five donation shares, trained on the donor game
against reciprocators and free riders through the zero-copy VecEnv; prints its learning curve.

    .venv/bin/python examples/numpy_reinforce.py [--iterations 100] [--envs 64] [--seed 0]

The policy is a softmax over the shares 0, 0.25, 0.5, 0.75 and 1 (one preference each, no
state: a tabular learner). Each iteration plays one episode in every env, then moves the
preferences along the REINFORCE gradient with the mean return as baseline (Williams 1992).
"""

import argparse
from pathlib import Path

import numpy as np

import socium

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios/donor_learner.toml"
SHARES = np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32)


def softmax(preferences: np.ndarray) -> np.ndarray:
    e = np.exp(preferences - preferences.max())
    return e / e.sum()


def evaluate(preferences: np.ndarray, envs: int, seed: int) -> float:
    """The policy's mean return over one episode in each of `envs` envs seeded from `seed`."""
    rng = np.random.default_rng(seed)
    env = socium.VecEnv(SCENARIO, envs, seed=seed)
    learner = env.external_agents[0]
    actions = np.zeros((envs, len(env.agent_labels), 1), np.float32)
    env.reset()
    total = np.zeros(envs)
    for _ in range(24):
        actions[:, learner, 0] = SHARES[rng.choice(len(SHARES), size=envs, p=softmax(preferences))]
        total += env.step(actions)[1][:, learner]
    return float(total.mean())


def train(iterations: int, envs: int, seed: int, learning_rate: float = 0.5):
    """Trains; returns the learning curve (mean learner return per iteration) and the policy."""
    rng = np.random.default_rng(seed)
    env = socium.VecEnv(SCENARIO, envs, seed=seed)
    learner = env.external_agents[0]
    steps = 24  # an episode: 12 rounds × 2 games
    preferences = np.zeros(len(SHARES))
    actions = np.zeros((envs, len(env.agent_labels), 1), np.float32)
    choices = np.zeros((steps, envs), np.int64)
    decided = np.zeros((steps, envs))
    rewards = np.zeros((steps, envs))
    curve = []
    _, infos = env.reset()
    for _ in range(iterations):
        probabilities = softmax(preferences)
        for t in range(steps):
            choices[t] = rng.choice(len(SHARES), size=envs, p=probabilities)
            actions[:, learner, 0] = SHARES[choices[t]]
            # `acting` says who acts at the coming step: only donations are decisions.
            decided[t] = infos["acting"][:, learner]
            _, step_rewards, _, _, infos = env.step(actions)
            rewards[t] = step_rewards[:, learner]
        _, _, _, _, infos = env.step(actions)  # NEXT_STEP: every env ended together; reset them
        # Reward-to-go of each decision, less its mean over the envs at the same step.
        to_go = rewards[::-1].cumsum(0)[::-1]
        advantage = (to_go - to_go.mean(1, keepdims=True)) / (to_go.std(1, keepdims=True) + 1e-8)
        # ∇ log softmax of the chosen share: one-hot(choice) − probabilities.
        one_hot = np.eye(len(SHARES))[choices]
        weight = (decided * advantage)[..., None]
        gradient = (weight * (one_hot - probabilities)).sum(0).mean(0)
        preferences += learning_rate * gradient
        curve.append(float(rewards.sum(0).mean()))
    return curve, preferences


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    curve, preferences = train(args.iterations, args.envs, args.seed)
    # Single iterations are noisy (returns vary a lot between episodes): print 10-iteration means.
    for start in range(0, len(curve), 10):
        window = curve[start : start + 10]
        print(f"iterations {start:3d}-{start + len(window) - 1:3d}: mean learner return {np.mean(window):9.2f}")
    print("policy:", dict(zip(SHARES.tolist(), softmax(preferences).round(3).tolist())))
    untrained = evaluate(np.zeros(len(SHARES)), 1024, seed=12345)
    trained = evaluate(preferences, 1024, seed=12345)
    print(f"evaluation over 1024 episodes: untrained {untrained:.2f}, trained {trained:.2f}")
