"""How well each episode-to-utterance attribution method recovers the exact per-utterance rewards
(issue 15; Sotopia-RL's attribution, Yu et al. 2025), on the bundled games whose rewards are
written per utterance: `socium run` with `[attribution]` set, one method at a time, on the same
held-out episodes; `summary.json` reports each method's Spearman rank correlation and mean
absolute error against the exact values, per dimension, over every utterance.

    python3 benches/attribution.py [--episodes 20] [--train-episodes 40] [--llm URL]

Methods:
- `uniform`: an agent's episode score in equal shares over its utterances;
- `onnx`: a linear weight model of the speaker's observation, fitted here by least squares on
  other episodes (a different seed) to each utterance's share of its agent's score (exact value
  / score, where the score is not ~0), exported with `onnx.helper` as relu(obs @ W + b) + 1e-6,
  a weight per dimension: what a researcher would train on simulation truth to attribute
  episodes without it;
- `llm`: the language model at URL (an OpenAI-compatible server, e.g. `scripts/llm-server
  --background`) rates each utterance 0..3 per dimension, on negotiation only (its home, and a
  small model's context holds its episodes), on the same held-out episodes;
- `exact`: the game's own values (ρ = 1, MAE = 0 on every dimension that varies: a check).

Needs numpy and onnx (the project's `.venv`); build first: cargo build --release -p socium-cli.
Prints a Markdown table (game / dimension × method: ρ / MAE) for docs/BENCHMARKS.md.
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
SOCIUM = ROOT / "target/release/socium"
GAMES = ["donor_cultural_evolution", "image_scoring", "among_us", "mafia", "negotiation"]
TRAIN_SEED, EVAL_SEED = 1001, 2002


def run(game: str, out: Path, episodes: int, seed: int, method: str) -> dict:
    """`socium run` of the bundled scenario `game` with `[attribution] method`; its summary."""
    cmd = [
        str(SOCIUM), "run", str(ROOT / f"scenarios/{game}.toml"), "--out", str(out),
        "--set", f"scenario.episodes={episodes}", "--set", f"scenario.seed={seed}",
        "--set", f"attribution.method={method}", "--set", "output.transcript=false",
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "summary.json").read_text())


def fit_weights(lines: list[dict], path: Path) -> None:
    """Fits relu(obs @ W + b) to each utterance's share of its agent's episode score, per
    dimension, by ridge least squares, and writes the model to `path`."""
    dims = sorted(lines[0]["exact"])
    x = np.array([l["observation"] for l in lines], np.float64)
    scores: dict[tuple, np.ndarray] = {}
    for l in lines:
        key = (l["episode"], l["agent"])
        scores[key] = scores.get(key, 0) + np.array([l["exact"][d] for d in dims])
    y = np.zeros((len(lines), len(dims)))
    use = np.zeros((len(lines), len(dims)), bool)
    for i, l in enumerate(lines):
        score = scores[(l["episode"], l["agent"])]
        exact = np.array([l["exact"][d] for d in dims])
        use[i] = np.abs(score) > 1e-9
        y[i] = np.where(use[i], exact / np.where(use[i], score, 1.0), 0.0)
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros((xb.shape[1], len(dims)))
    ridge = 1e-3 * np.eye(xb.shape[1])
    for k in range(len(dims)):
        rows = xb[use[:, k]]
        if len(rows):
            w[:, k] = np.linalg.solve(rows.T @ rows + ridge, rows.T @ y[use[:, k], k])
    obs_dim = x.shape[1]
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["obs", "w", "b"], ["linear"]),
            helper.make_node("Relu", ["linear"], ["positive"]),
            helper.make_node("Add", ["positive", "floor"], ["weight"]),
        ],
        "attribution_weights",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", obs_dim])],
        [helper.make_tensor_value_info("weight", TensorProto.FLOAT, ["batch", len(dims)])],
        initializer=[
            numpy_helper.from_array(w[:obs_dim].astype(np.float32), "w"),
            numpy_helper.from_array(w[obs_dim].astype(np.float32), "b"),
            numpy_helper.from_array(np.full(len(dims), 1e-6, np.float32), "floor"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def cell(agreement: dict | None) -> str:
    if agreement is None:
        return "—"
    rho = agreement["spearman"]
    return f"{'—' if rho is None else f'{rho:.2f}'} / {agreement['mae']:.3g}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=20, help="held-out episodes per game")
    p.add_argument("--train-episodes", type=int, default=40, help="episodes to fit the ONNX model on")
    p.add_argument("--llm", metavar="URL", help="an OpenAI-compatible server's base URL (…/v1)")
    p.add_argument("--llm-model", default="smollm2")
    args = p.parse_args()
    methods = ["uniform", "onnx", "llm", "exact"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for game in GAMES:
            train = tmp / f"{game}-train"
            run(game, train, args.train_episodes, TRAIN_SEED, '"exact"')
            lines = [json.loads(l) for l in (train / "attribution.jsonl").read_text().splitlines()]
            model = tmp / f"{game}.onnx"
            fit_weights(lines, model)
            found = {}
            for method in methods:
                setting = {
                    "uniform": '"uniform"',
                    "exact": '"exact"',
                    "onnx": f'{{ onnx = {{ model = "{model}" }} }}',
                    "llm": f'{{ llm = {{ base_url = "{args.llm}", model = "{args.llm_model}", '
                    "max_tokens = 400, timeout_s = 600 } }",
                }[method]
                if method == "llm" and (args.llm is None or game != "negotiation"):
                    continue
                summary = run(game, tmp / f"{game}-{method}", args.episodes, EVAL_SEED, setting)
                found[method] = summary["attribution"]
                faults = summary["attribution"].get("faults", 0)
                print(f"{game} {method}: {summary['attribution']['utterances']} utterances, "
                      f"{faults} faults", flush=True)
            for dim, exact in found["exact"]["dimensions"].items():
                if exact["spearman"] is None:
                    continue  # constant on these episodes: nothing to recover
                rows.append([f"{game} / {dim}"] + [
                    cell(found[m]["dimensions"].get(dim)) if m in found else "—" for m in methods
                ])
    print()
    print("| game / dimension | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
