"""Why reward design matters: one learner, three rewards, both raw dimensions tracked in one plot.

    .venv/bin/python examples/reward_design.py [--iterations 200] [--envs 256] [--seed 0]
        [--multiplier 2] [--out docs/figures/reward_design.png]

Needs matplotlib (`pip install matplotlib`) besides the socium package. The learner of
`examples/numpy_reinforce.py` (REINFORCE, a softmax over the donation shares 0 … 1, no state) is
trained in `scenarios/donor_learner.toml` under three rewards, set by scenario overrides:

1. payoff only (reputation weight 0, the game's default);
2. the weighted sum payoff + 10 · reputation (a donation's payoff is in resources, about 10 at a
   game's start, its reputation change in shares, at most 1: the weight puts them on one scale);
3. the logical AND of Wang et al. (2024): log σ(payoff − its mean over 50 steps) +
   log σ(reputation − 0), the recipe of docs/rewards.md.

Whatever the learner is trained on, the figure shows what it does to the raw, untransformed
payoff and reputation: a twin VecEnv with the default rewards (identity transforms) takes the
same seeds and actions, so it replays each training episode exactly and reports its raw values.
`--multiplier` overrides what a recipient gets per unit given (2 in the scenario). Deterministic
for a seed; about ten seconds with the defaults on 2 cores.
"""

import argparse
from pathlib import Path

import numpy as np

import socium

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios/donor_learner.toml"
SHARES = np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32)
STEPS = 24  # an episode: 12 rounds × 2 games


def log_sigmoid(reference: dict) -> dict:
    return {"log_sigmoid": {"reference": reference}}


# Scenario overrides per design. `[scalar] combine` stays "sum" (the default) in all three: a sum
# of log-sigmoids is the AND, the same as `par` transforms under `combine = "log_sum"`.
DESIGNS = {
    "payoff only": {},  # the scenario as written: payoff weight 1, reputation weight 0
    "payoff + 10·reputation (sum)": {"rewards.reputation.weight": 10.0},
    "log σ(payoff) + log σ(reputation) (AND)": {
        "rewards.reputation.weight": 1.0,
        "rewards.payoff.transform": log_sigmoid({"mean": {"window": 50}}),
        "rewards.reputation.transform": log_sigmoid({"constant": 0}),
    },
}


def softmax(preferences: np.ndarray) -> np.ndarray:
    e = np.exp(preferences - preferences.max())
    return e / e.sum()


def train(design: dict, game: dict, iterations: int, envs: int, seed: int, learning_rate=0.5):
    """REINFORCE on the design's reward; returns the raw [payoff, reputation] of the learner per
    episode (mean over the envs) at every iteration, and the final policy."""
    rng = np.random.default_rng(seed)
    env = socium.VecEnv(SCENARIO, envs, seed=seed, overrides={**game, **design})
    # Same scenario, seeds and actions, default rewards: its components are the raw values.
    raw_env = socium.VecEnv(SCENARIO, envs, seed=seed, overrides=game)
    assert raw_env.reward_dimensions == ["payoff", "reputation"]
    learner = env.external_agents[0]
    preferences = np.zeros(len(SHARES))
    actions = np.zeros((envs, len(env.agent_labels), 1), np.float32)
    choices = np.zeros((STEPS, envs), np.int64)
    decided = np.zeros((STEPS, envs))
    rewards = np.zeros((STEPS, envs))
    raw = np.zeros((STEPS, envs, 2))
    curve = []
    _, infos = env.reset()
    raw_env.reset()
    for _ in range(iterations):
        probabilities = softmax(preferences)
        for t in range(STEPS):
            choices[t] = rng.choice(len(SHARES), size=envs, p=probabilities)
            actions[:, learner, 0] = SHARES[choices[t]]
            decided[t] = infos["acting"][:, learner]  # only donations are decisions
            _, step_rewards, _, _, infos = env.step(actions)
            rewards[t] = step_rewards[:, learner]
            raw[t] = raw_env.step(actions)[4]["reward_components"][:, learner]
        env.step(actions)  # NEXT_STEP autoreset: every env ended together; reset them
        raw_env.step(actions)
        # As in numpy_reinforce.py: reward-to-go, standardised over the envs at each step.
        to_go = rewards[::-1].cumsum(0)[::-1]
        advantage = (to_go - to_go.mean(1, keepdims=True)) / (to_go.std(1, keepdims=True) + 1e-8)
        one_hot = np.eye(len(SHARES))[choices]
        gradient = ((decided * advantage)[..., None] * (one_hot - probabilities)).sum(0).mean(0)
        preferences += learning_rate * gradient
        curve.append(raw.sum(0).mean(0))
    return np.array(curve), softmax(preferences)


def plot(curves: dict, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, curve in curves.items():
        for panel, values in zip(axes, curve.T):
            panel.plot(np.arange(1, len(values) + 1), values, label=name, linewidth=1.2)
    axes[0].set_ylabel("raw payoff per episode (resources)")
    axes[1].set_ylabel("raw reputation per episode (shares)")
    for panel, name in zip(axes, ["Payoff", "Reputation"]):
        panel.set_xlabel("training iteration (one episode in every env)")
        panel.set_title(name)
        panel.grid(alpha=0.3)
    axes[1].legend(loc="center right", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110, metadata={"Software": None})  # no version stamp: same bytes


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--envs", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--multiplier", type=float, help="default: the scenario's (2)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/figures/reward_design.png")
    args = parser.parse_args()
    game = {} if args.multiplier is None else {"game.donor_cultural.multiplier": args.multiplier}
    curves = {}
    for name, design in DESIGNS.items():
        curves[name], policy = train(design, game, args.iterations, args.envs, args.seed)
        last = curves[name][-10:].mean(0)  # single iterations are noisy: the last ten
        print(f"{name}: raw payoff {last[0]:.2f}, reputation {last[1]:.2f} (last 10 iterations)")
        print("  policy:", dict(zip(SHARES.tolist(), policy.round(3).tolist())))
    setup = f"{args.envs} envs, seed {args.seed}"
    setup += "" if args.multiplier is None else f", multiplier {args.multiplier:g}"
    title = f"A REINFORCE donor trained on three rewards ({setup})"
    plot(curves, args.out, title)
    print("wrote", args.out)
