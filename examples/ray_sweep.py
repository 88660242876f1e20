"""A parameter sweep over Ray: image-scoring evolution for benefit/cost ratios 1.5 .. 5, many seeds
each, one Ray task per (ratio, seed); draws the final frequency of each strategy against b/c.

    .venv/bin/python examples/ray_sweep.py [--ratios 1.5 2 2.5 3 3.5 4 4.5 5] [--seeds 16]
                                           [--address ADDRESS] [--out out/ray_sweep.png]

Without --address, `ray.init()` starts a local Ray instance; with one (`ray://host:10001` or
`auto`), it joins that cluster, whose workers need the `socium` package installed. Each task runs
`socium.evolve` (the GIL released inside) on scenarios/image_scoring_evolution.toml with partial
information: an observer sees a donation with probability q = 0.3, and the cost is 0.1. Nowak &
Sigmund (1998) predict discriminators win when q·b > c, i.e. when b/c > 1/q ≈ 3.33; below it the
defectors take over.
"""

import argparse
from pathlib import Path

import numpy as np

import socium

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios/image_scoring_evolution.toml"
COST, OBSERVATION = 0.1, 0.3


def final_frequencies(ratio: float, seed: int, generations: int) -> dict:
    """One evolutionary run at benefit/cost `ratio`: the strategies' frequencies at the end."""
    result = socium.evolve(
        SCENARIO,
        run=0,
        seed=seed,
        benefit=ratio * COST,
        cost=COST,
        observation=OBSERVATION,
        overrides={"evolution.generations": generations},
    )
    counts = np.array(result["generations"][-1]["counts"], float)
    return dict(zip(result["labels"], (counts / counts.sum()).tolist()))


def sweep(ratios, seeds: int, generations: int, address: str | None = None) -> dict:
    """Runs every (ratio, seed) as a Ray task; returns {ratio: [frequencies of each seed]}."""
    import ray

    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(final_frequencies)
        futures = {(r, s): task.remote(r, s, generations) for r in ratios for s in range(seeds)}
        results = dict(zip(futures, ray.get(list(futures.values()))))
    finally:
        ray.shutdown()
    return {r: [results[(r, s)] for s in range(seeds)] for r in ratios}


def draw(table: dict, path: Path) -> Path:
    """Mean final frequency of each strategy against b/c, with the q·b = c threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = sorted(table)
    labels = list(table[ratios[0]][0])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label in labels:
        runs = np.array([[run[label] for run in table[r]] for r in ratios])
        mean = runs.mean(1)
        half = 1.96 * runs.std(1, ddof=1) / np.sqrt(runs.shape[1]) if runs.shape[1] > 1 else 0 * mean
        ax.plot(ratios, mean, marker="o", label=label)
        ax.fill_between(ratios, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1), alpha=0.2)
    ax.axvline(1 / OBSERVATION, color="grey", linestyle="--", label="q·b = c")
    ax.set_xlabel("benefit / cost")
    ax.set_ylabel("final frequency (mean, 95% band)")
    ax.set_title(f"Image scoring, q = {OBSERVATION}: {len(table[ratios[0]])} seeds per ratio")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratios", type=float, nargs="+", default=[1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--generations", type=int, default=40)
    parser.add_argument("--address", default=None, help="a Ray cluster to join (default: start a local one)")
    parser.add_argument("--out", type=Path, default=ROOT / "out/ray_sweep.png")
    args = parser.parse_args()
    table = sweep(args.ratios, args.seeds, args.generations, args.address)
    for ratio in sorted(table):
        means = {k: np.mean([run[k] for run in table[ratio]]) for k in table[ratio][0]}
        print(f"b/c = {ratio:4.1f}: " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()))
    print("wrote", draw(table, args.out))
