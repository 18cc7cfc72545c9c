#!/usr/bin/python3
"""check.py - tools/onnx_to_lstm.py against PyTorch, through a server (test/onnx/check.sh).

For each case an nn.LSTM + nn.Linear with random weights is exported with torch.onnx.export,
converted, stored in lstm_models, and lstm_forecast over a series is compared with PyTorch's
forecast (within 1e-5); every weight must read back from the database exactly as PyTorch has
it. Graphs the extension cannot run (bidirectional, an activation after the LSTM, clip,
input_forget, peepholes, other activations, a non-zero initial state) must be refused with an
error naming the reason. Prints one line per check and "N passed, M failed".
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import onnx_to_lstm  # noqa: E402

# torch.onnx.export warns about batch_first LSTMs and shape inference: not what is checked.
warnings.filterwarnings("ignore", category=UserWarning)

DB = "lstm_onnx_check"
results = []


def check(name, ok, detail=""):
    """Record and print one check."""
    results.append(ok)
    print(f"{'ok' if ok else 'FAILED'}: {name}{' (' + detail + ')' if detail else ''}")


def psql(sql, db=DB):
    """Run SQL through psql, return its unaligned output."""
    out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", db],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


class Forecaster(torch.nn.Module):
    """nn.LSTM + nn.Linear on the last step, or on every step (the head then exports as
    MatMul + Add)."""

    def __init__(self, inputs, hidden, layers, outputs, every_step=False, **lstm_options):
        super().__init__()
        self.lstm = torch.nn.LSTM(inputs, hidden, layers, batch_first=True, **lstm_options)
        self.head = torch.nn.Linear(hidden * (2 if lstm_options.get("bidirectional") else 1),
                                    outputs)
        self.every_step = every_step

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y) if self.every_step else self.head(y[:, -1, :])


def export(net, inputs, path):
    """torch.onnx.export with a dynamic batch and length."""
    net.eval()
    torch.onnx.export(net, torch.zeros(1, 7, inputs), path, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch", 1: "time"}},
                      opset_version=14)


def torch_weights(net):
    """The extension's weight names and PyTorch's float32 values."""
    w = {k: v.detach().numpy() for k, v in net.lstm.state_dict().items()}
    w.update({"head." + k: v.detach().numpy() for k, v in net.head.state_dict().items()})
    return w


def case(name, tmp, inputs, hidden, layers, outputs, every_step, seed, scale):
    """Export, convert, store, compare weights and forecasts."""
    torch.manual_seed(seed)
    net = Forecaster(inputs, hidden, layers, outputs, every_step)
    path = os.path.join(tmp, name + ".onnx")
    export(net, inputs, path)
    ops = sorted({n.op_type for n in onnx.load(path).graph.node} & {"Gemm", "MatMul", "Add"})
    model = onnx_to_lstm.convert(onnx.load(path))
    mean, std = scale
    model.update(input_mean=[mean] * inputs, input_std=[std] * inputs,
                 output_mean=[mean] * outputs, output_std=[std] * outputs)
    psql(f"INSERT INTO lstm_models (name, model) VALUES ('on_{name}', $m${json.dumps(model)}$m$)")

    stored = json.loads(psql(f"SELECT model::text FROM lstm_models WHERE name = 'on_{name}'"))
    expected = torch_weights(net)
    exact = set(stored["weights"]) == set(expected) and all(
        np.array_equal(np.asarray(stored["weights"][k], dtype=np.float32), v)
        for k, v in expected.items())
    check(f"{name}: head exported as {'+'.join(ops)}, {layers} layer(s); every weight exact",
          exact)

    rng = np.random.default_rng(seed)
    series = (mean + std * np.sin(np.arange(60) / 4.0)[:, None]
              + rng.normal(0, std / 5, (60, inputs))).astype(np.float64)
    with torch.no_grad():
        x = torch.tensor((series - mean) / std, dtype=torch.float32).unsqueeze(0)
        y = net(x)
        y = y[0, -1] if every_step else y[0]
        want = float(y[0]) * std + mean
    if inputs == 1:
        rows = ",".join(f"({t},{v!r})" for t, v in enumerate(series[:, 0]))
        got = psql(f"SELECT lstm_forecast('on_{name}', v ORDER BY t) FROM (VALUES {rows}) s (t, v)")
    else:
        rows = ",".join(f"({t},ARRAY[{','.join(repr(x) for x in r)}]::float8[])"
                        for t, r in enumerate(series))
        got = psql(f"SELECT lstm_forecast('on_{name}', f ORDER BY t) FROM (VALUES {rows}) s (t, f)")
    error = abs(float(got) - want) / max(1.0, abs(want))
    check(f"{name}: lstm_forecast equals PyTorch's forecast", error <= 1e-5,
          f"database {float(got):.9g}, PyTorch {want:.9g}, relative error {error:.2e}")


def refused(name, tmp, build, expect):
    """A graph the converter must refuse with a message containing expect."""
    path = os.path.join(tmp, name + ".onnx")
    model = build(path)
    try:
        onnx_to_lstm.convert(model)
        check(f"{name} is refused", False, "converted without an error")
    except onnx_to_lstm.ConversionError as e:
        check(f"{name} is refused", expect in str(e), str(e))


def exported(path, net, inputs=1):
    """Export net and load the ONNX model back."""
    export(net, inputs, path)
    return onnx.load(path)


def with_lstm_attribute(path, name, value):
    """A plain exported graph whose first LSTM node gets one more attribute."""
    model = exported(path, Forecaster(1, 4, 1, 1))
    node = next(n for n in model.graph.node if n.op_type == "LSTM")
    node.attribute.append(onnx.helper.make_attribute(name, value))
    return model


def with_lstm_input(path, index, array):
    """A plain exported graph whose LSTM node gets input index from a new initializer."""
    model = exported(path, Forecaster(1, 4, 1, 1))
    node = next(n for n in model.graph.node if n.op_type == "LSTM")
    tensor = onnx.numpy_helper.from_array(array.astype(np.float32), f"extra_{index}")
    model.graph.initializer.append(tensor)
    while len(node.input) <= index:
        node.input.append("")
    node.input[index] = tensor.name
    return model


class WithActivation(Forecaster):
    """A ReLU between the LSTM and the head: not what the extension runs."""

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(torch.relu(y[:, -1, :]))


def main():
    psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    psql(f"CREATE DATABASE {DB}", db="postgres")
    try:
        psql("CREATE EXTENSION lstm")
        with tempfile.TemporaryDirectory() as tmp:
            case("one_layer", tmp, 1, 8, 1, 1, False, 1, (0.0, 1.0))
            case("stacked", tmp, 1, 16, 3, 1, False, 2, (315.0, 12.5))
            case("features", tmp, 3, 6, 2, 1, True, 3, (5.0, 2.0))
            refused("bidirectional", tmp,
                    lambda p: exported(p, Forecaster(1, 4, 1, 1, bidirectional=True)),
                    "direction bidirectional")
            refused("activation after the LSTM", tmp,
                    lambda p: exported(p, WithActivation(1, 4, 1, 1)), "operator Relu")
            refused("clip", tmp, lambda p: with_lstm_attribute(p, "clip", 3.0), "clip")
            refused("input_forget", tmp, lambda p: with_lstm_attribute(p, "input_forget", 1),
                    "input_forget")
            refused("other activations", tmp,
                    lambda p: with_lstm_attribute(p, "activations", ["HardSigmoid", "Tanh", "Tanh"]),
                    "activations")
            refused("peepholes", tmp, lambda p: with_lstm_input(p, 7, np.full((1, 12), 0.5)),
                    "peepholes")
            refused("non-zero initial state", tmp,
                    lambda p: with_lstm_input(p, 5, np.full((1, 1, 4), 0.5)), "initial_h")
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB}", db="postgres")
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
