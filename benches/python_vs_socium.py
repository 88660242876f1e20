"""Agent-steps per second from Python: the Socium VecEnv of the donor game with 1, 64, 1024 and
4096 envs, and beside it, in the same run, the same game as a plain PettingZoo ParallelEnv in
Python (benches/donor_pettingzoo_baseline.py).

    .venv/bin/python benches/python_vs_socium.py [--repeats 5]

An agent-step is one agent's share of one env step (12 per env step in this game). Each figure is
the median of the repeats, each timing a fixed number of steps after a warm-up. The Python
baseline is timed first, before any VecEnv exists in the process: rayon's idle workers spin for a
while after a parallel step and would slow whatever is timed next on a 2-core machine.

The env counts are timed in rounds, each round every count once, so that a slow spell of a shared
machine falls on every count alike rather than on whichever was being timed; the column "vs 64
envs" is the median over rounds of a count's figure over the 64-env figure of the same round
(records kept, the default, or not: `records=False`, each against its own 64-env figure).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import socium

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from donor_pettingzoo_baseline import DonorGame  # noqa: E402

SCENARIO = HERE.parent / "scenarios/donor_learner.toml"


def time_socium(envs: int, steps: int, records: bool) -> float:
    env = socium.VecEnv(SCENARIO, envs, seed=1, records=records)
    agents = len(env.agent_labels)
    actions = np.full((envs, agents, 1), 0.5, np.float32)
    env.reset()
    for _ in range(20):
        env.step(actions)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(actions)
    return envs * agents * steps / (time.perf_counter() - start)


def time_baseline(steps: int) -> float:
    env = DonorGame(seed=1)
    env.reset()
    action = {"agent_0": np.array([0.5], np.float32)}
    start = time.perf_counter()
    for _ in range(steps):
        if not env.agents:
            env.reset()
        env.step(action)
    return len(env.possible_agents) * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    baseline = statistics.median(time_baseline(5000) for _ in range(args.repeats))
    # About 0.8 M env-steps each (a tenth of a second to a second), so that the large counts are
    # not timed over a handful of steps on a noisy machine.
    sizes = [(1, 20000), (64, 12800), (1024, 800), (4096, 200)]
    settings = [(envs, steps, records) for records in (True, False) for envs, steps in sizes]
    rounds = [
        {(envs, records): time_socium(envs, steps, records) for envs, steps, records in settings}
        for _ in range(args.repeats)
    ]
    print(f"{'':50}{'agent-steps/s':>16}{'vs Python':>12}{'vs 64 envs':>12}")
    print(f"{'PettingZoo ParallelEnv in Python, 1 env':50}{baseline:>16,.0f}{1:>11.1f}x")
    for envs, _, records in settings:
        rate = statistics.median(r[envs, records] for r in rounds)
        against_64 = statistics.median(r[envs, records] / r[64, records] for r in rounds)
        name = f"socium VecEnv, {envs} env{'s' if envs > 1 else ''}" + ("" if records else ", records=False")
        print(f"{name:50}{rate:>16,.0f}{rate / baseline:>11.1f}x{against_64:>11.2f}x")


if __name__ == "__main__":
    main()
