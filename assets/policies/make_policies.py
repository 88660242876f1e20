"""Builds the small ONNX policies (and an attribution weight model) in this folder with `onnx.helper` and numpy weights.

    .venv/bin/python assets/policies/make_policies.py

Every model follows Socium's policy contract (crates/socium-policy/src/onnx.rs): input `obs`
float32 [batch, obs_dim], optional input `action_mask` float32 [batch, mask_dim], first output
the action head [batch, head_dim] (logits per discrete choice, values per Box dimension), further
outputs extras [batch, k]; a recurrent model adds input `state` and output `next_state`, both
[batch, k]. Weights come from fixed seeds, so running this again rewrites the same
bytes. The models under `invalid/` break one rule each, for the error tests.
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
OPSET = 17  # well inside what onnxruntime 1.31 runs
BATCH = "batch"


def tensor(name, width, dtype=TensorProto.FLOAT, batch=BATCH):
    return helper.make_tensor_value_info(name, dtype, [batch, width])


def save(model_name, nodes, inputs, outputs, weights):
    graph = helper.make_graph(
        nodes,
        model_name,
        inputs,
        outputs,
        initializer=[numpy_helper.from_array(np.asarray(w), name) for name, w in weights.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="socium make_policies"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = HERE / f"{model_name}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def linear(name, x, w, b, out):
    """`out = x @ w + b` as one Gemm node."""
    return helper.make_node("Gemm", [x, w, b], [out], name=name)


def mlp_layers(rng, sizes):
    """Weights of an MLP with `sizes` widths (Glorot-uniform weights, small biases)."""
    weights = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights[f"w{i}"] = rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
        weights[f"b{i}"] = rng.uniform(-0.1, 0.1, fan_out).astype(np.float32)
    return weights


def tft_linear():
    """Tit for tat as one linear layer on the repeated game's observation (obs 7, Discrete 2:
    0 = defect, 1 = cooperate): logit(C) − logit(D) = 0.5 − has_last + partner_last, so it
    cooperates first and then copies the partner (HAS_LAST = 1, PARTNER_LAST = 3)."""
    w = np.zeros((7, 2), np.float32)
    w[1, 1], w[3, 1] = -1.0, 1.0
    b = np.array([0.0, 0.5], np.float32)
    nodes = [linear("logits", "obs", "w", "b", "logits")]
    return save("tft_linear", nodes, [tensor("obs", 7)], [tensor("logits", 2)], {"w": w, "b": b})


def grudger_recurrent():
    """A recurrent policy for the repeated game (obs 7, Discrete 2: 0 = defect, 1 = cooperate)
    that reads only the partner's last move (HAS_LAST = 1, PARTNER_LAST = 3) and keeps in its
    state (k = 1) whether the partner has defected this episode: next_state = max(state,
    has_last * (1 - partner_last)); logit(C) - logit(D) = 0.5 - 2 * next_state. A grudger, which
    without its state would forgive as soon as the partner cooperates again."""
    weights = {
        "pick_has": np.zeros((7, 1), np.float32),
        "pick_partner": np.zeros((7, 1), np.float32),
        "to_logits": np.array([[2.0, 0.0]], np.float32),
        "bias": np.array([0.0, 0.5], np.float32),
    }
    weights["pick_has"][1, 0], weights["pick_partner"][3, 0] = 1.0, 1.0
    nodes = [
        helper.make_node("MatMul", ["obs", "pick_has"], ["has_last"]),
        helper.make_node("MatMul", ["obs", "pick_partner"], ["partner_last"]),
        helper.make_node("Mul", ["has_last", "partner_last"], ["cooperated"]),
        helper.make_node("Sub", ["has_last", "cooperated"], ["defected"]),
        helper.make_node("Max", ["state", "defected"], ["next_state"]),
        linear("logits", "next_state", "to_logits", "bias", "logits"),
    ]
    return save("grudger_recurrent", nodes, [tensor("obs", 7), tensor("state", 1)],
                [tensor("logits", 2), tensor("next_state", 1)], weights)


def mlp_nodes(layers, head):
    """tanh MLP nodes from `obs` through `layers` hidden layers to the linear output `head`."""
    nodes, x = [], "obs"
    for i in range(layers):
        nodes += [linear(f"dense{i}", x, f"w{i}", f"b{i}", f"z{i}"), helper.make_node("Tanh", [f"z{i}"], [f"h{i}"])]
        x = f"h{i}"
    nodes.append(linear("head", x, f"w{layers}", f"b{layers}", head))
    return nodes, x


def donor_mlp():
    """An MLP for the cultural donor game with punishment and refusal (obs 13, action
    Tuple(Discrete(3), Box(1)): head = 3 logits + the share), 13 -> 32 -> 32 -> 4, that reads the
    action mask (forbidden logits pushed down by 1e4) and has a critic head `value` [batch, 1]."""
    rng = np.random.default_rng(13)
    weights = mlp_layers(rng, [13, 32, 32, 4])
    value = mlp_layers(rng, [32, 1])
    weights["wv"], weights["bv"] = value["w0"], value["b0"]
    weights["penalty"] = np.hstack([np.eye(3) * 1e4, np.zeros((3, 1))]).astype(np.float32)
    weights["one"] = np.ones(1, np.float32)
    nodes, last_hidden = mlp_nodes(2, "raw")
    nodes += [
        helper.make_node("Sub", ["action_mask", "one"], ["blocked"]),  # 0 legal, -1 forbidden
        helper.make_node("MatMul", ["blocked", "penalty"], ["push"]),
        helper.make_node("Add", ["raw", "push"], ["head"]),
        linear("value", last_hidden, "wv", "bv", "value"),
    ]
    inputs = [tensor("obs", 13), tensor("action_mask", 3)]
    return save("donor_mlp", nodes, inputs, [tensor("head", 4), tensor("value", 1)], weights)


def donor_bench_mlp():
    """The benchmark's MLP for the cultural donor game with trace depth 8, its deepest (obs 28,
    Box(1) share): 28 -> 64 -> 64 -> 1."""
    weights = mlp_layers(np.random.default_rng(28), [28, 64, 64, 1])
    nodes, _ = mlp_nodes(2, "share")
    return save("donor_bench_mlp", nodes, [tensor("obs", 28)], [tensor("share", 1)], weights)


def among_us_belief():
    """A player for the Among Us-style game's defaults (5 players, 3 x 2 rooms: obs 189, action
    Tuple(Discrete(59), Simplex(5)): head = 59 act logits + 5 belief logits). It always waits
    (the one act legal whenever a living player acts), and its belief head gives the constant
    logits ln(0.1, 0.15, 0.2, 0.25, 0.3), whose softmax is that belief."""
    w = np.zeros((189, 64), np.float32)
    b = np.zeros(64, np.float32)
    b[0] = 1.0
    b[59:] = np.log([0.1, 0.15, 0.2, 0.25, 0.3])
    nodes = [linear("head", "obs", "w", "b", "head")]
    return save("among_us_belief", nodes, [tensor("obs", 189)], [tensor("head", 64)], {"w": w, "b": b})


def negotiation_linear():
    """A negotiator for Deal or No Deal's items (obs 82, Discrete(149)): constant logits that
    accept whenever the partner's offer stands (logit 10 at act 1), else make the legal offer
    with the largest table index (logit index/1000 at act 24 + index), which keeps the most
    balls, then hats, then books; every other act has logit 0."""
    w = np.zeros((82, 149), np.float32)
    b = np.zeros(149, np.float32)
    b[1] = 10.0
    b[24:] = np.arange(1, 126, dtype=np.float32) / 1000.0
    nodes = [linear("logits", "obs", "w", "b", "logits")]
    return save("negotiation_linear", nodes, [tensor("obs", 82)], [tensor("logits", 149)], {"w": w, "b": b})


def negotiation_weights():
    """An attribution weight model for the negotiation game (obs 82 -> one weight per utterance,
    see crates/socium-policy/src/weights.rs): relu(obs @ w + 0.1) with fixed random w in
    [-0.5, 0.5], so utterances made in different situations weigh differently."""
    rng = np.random.default_rng(15)
    w = rng.uniform(-0.5, 0.5, (82, 1)).astype(np.float32)
    nodes = [
        linear("score", "obs", "w", "b", "score"),
        helper.make_node("Relu", ["score"], ["weight"], name="relu"),
    ]
    return save("negotiation_weights", nodes, [tensor("obs", 82)], [tensor("weight", 1)],
                {"w": w, "b": np.array([0.1], np.float32)})


def invalid():
    """One broken model per load-time or run-time error, all for the repeated game (obs 7,
    Discrete(2))."""
    w7 = {"w": np.zeros((7, 2), np.float32), "b": np.zeros(2, np.float32)}
    gemm = [linear("logits", "obs", "w", "b", "logits")]
    save("invalid/wrong_obs_width", gemm, [tensor("obs", 8)], [tensor("logits", 2)],
         {"w": np.zeros((8, 2), np.float32), "b": np.zeros(2, np.float32)})
    save("invalid/wrong_dtype", gemm, [tensor("obs", 7, TensorProto.DOUBLE)],
         [tensor("logits", 2, TensorProto.DOUBLE)],
         {"w": np.zeros((7, 2)), "b": np.zeros(2)})
    save("invalid/wrong_action_count", gemm, [tensor("obs", 7)], [tensor("logits", 3)],
         {"w": np.zeros((7, 3), np.float32), "b": np.zeros(3, np.float32)})
    save("invalid/fixed_batch", gemm, [tensor("obs", 7, batch=1)], [tensor("logits", 2, batch=1)], w7)
    save("invalid/nan_output", gemm, [tensor("obs", 7)], [tensor("logits", 2)],
         {"w": w7["w"], "b": np.array([0.0, np.nan], np.float32)})
    save("invalid/inf_output", gemm, [tensor("obs", 7)], [tensor("logits", 2)],
         {"w": w7["w"], "b": np.array([-np.inf, 0.0], np.float32)})
    save("invalid/weights_of_three", gemm, [tensor("obs", 82)], [tensor("logits", 3)],
         {"w": np.zeros((82, 3), np.float32), "b": np.zeros(3, np.float32)})
    save("invalid/state_without_next_state", gemm, [tensor("obs", 7), tensor("state", 1)],
         [tensor("logits", 2)], w7)
    (HERE / "invalid/not_onnx.onnx").write_text("this is a text file, not an ONNX model\n")


if __name__ == "__main__":
    for build in (tft_linear, grudger_recurrent, donor_mlp, donor_bench_mlp, among_us_belief,
                  negotiation_linear, negotiation_weights):
        print(build())
    invalid()
    print(HERE / "invalid")
