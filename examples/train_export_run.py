"""The train -> export -> run loop: train the numpy learner of numpy_reinforce.py in Python, export
its policy to ONNX with onnx.helper, and play it with `socium run` against the same scripted
reciprocators and free riders.

    .venv/bin/python examples/train_export_run.py [--iterations 100] [--envs 64] [--out out/loop]

The learner is a softmax over five donation shares with no state, so the exported policy is its
greedy share as a constant: `share = obs @ 0 + s`, a one-node ONNX graph (Gemm) honouring
Socium's policy contract (input `obs` [batch, 13], first output the Box(1) action head). The
scenario is scenarios/donor_learner.toml with its external agent replaced by the model.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_reinforce  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def export(share: float, obs_dim: int, path: Path) -> Path:
    """Writes the constant-share policy as an ONNX model."""
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["obs", "w", "b"], ["share"])],
        "learner",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", obs_dim])],
        [helper.make_tensor_value_info("share", TensorProto.FLOAT, ["batch", 1])],
        initializer=[
            numpy_helper.from_array(np.zeros((obs_dim, 1), np.float32), "w"),
            numpy_helper.from_array(np.array([share], np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def scenario_with_policy(model: Path, path: Path) -> Path:
    """donor_learner.toml with the external learner replaced by `model`."""
    text = numpy_reinforce.SCENARIO.read_text()
    external = 'controller = "external"'
    assert external in text, "donor_learner.toml no longer has its external learner"
    path.write_text(text.replace(external, f"policy = {json.dumps(str(model))}"))
    return path


def socium_command() -> list[str]:
    """The `socium` binary: $SOCIUM_BIN, else the newer of target/release and target/debug, else
    `cargo run --release`."""
    if os.environ.get("SOCIUM_BIN"):
        return [os.environ["SOCIUM_BIN"]]
    built = [p for p in (ROOT / "target/release/socium", ROOT / "target/debug/socium") if p.exists()]
    if built:
        return [str(max(built, key=lambda p: p.stat().st_mtime))]
    return ["cargo", "run", "--quiet", "--release", "-p", "socium-cli", "--"]


def run_loop(iterations: int, envs: int, seed: int, out: Path, episodes: int | None = None) -> dict:
    """Trains, exports, runs; returns the run's summary.json (plus the exported share)."""
    out.mkdir(parents=True, exist_ok=True)
    curve, preferences = numpy_reinforce.train(iterations, envs, seed)
    share = float(numpy_reinforce.SHARES[int(np.argmax(preferences))])
    model = export(share, obs_dim=13, path=out / "learner.onnx")
    scenario = scenario_with_policy(model, out / "donor_learner_onnx.toml")
    command = socium_command() + ["run", str(scenario), "--out", str(out / "run")]
    if episodes is not None:
        command += ["--episodes", str(episodes)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    print(f"learning curve: first iteration {curve[0]:.2f}, last {curve[-1]:.2f}; greedy share {share}")
    print(result.stdout)
    summary = json.loads((out / "run/summary.json").read_text())
    summary["share"] = share
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "out/loop")
    args = parser.parse_args()
    run_loop(args.iterations, args.envs, args.seed, args.out)
