"""A random policy in the donor game: the PettingZoo loop a trainer starts from.

    .venv/bin/python examples/random_rollout.py [--episodes 5] [--seed 1]
"""

import argparse
from pathlib import Path

import socium

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios/donor_learner.toml"


def rollout(episodes: int, seed: int) -> list[float]:
    """The learner's return in each of `episodes` episodes of random actions."""
    env = socium.parallel_env(SCENARIO, seed=seed)
    for agent in env.possible_agents:
        env.action_space(agent).seed(seed)
    returns = []
    for _ in range(episodes):
        env.reset()
        total = 0.0
        while env.agents:
            actions = {a: env.action_space(a).sample() for a in env.agents}
            _, rewards, _, _, _ = env.step(actions)
            total += sum(rewards.values())
        returns.append(total)
    return returns


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for i, r in enumerate(rollout(args.episodes, args.seed)):
        print(f"episode {i}: learner return {r:.2f}")
