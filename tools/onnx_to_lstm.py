#!/usr/bin/python3
"""onnx_to_lstm.py - convert an ONNX LSTM forecaster to the lstm extension's JSON model.

    tools/onnx_to_lstm.py model.onnx > model.json
    tools/onnx_to_lstm.py model.onnx --input-mean 315 --input-std 12 \\
        --output-mean 315 --output-std 12 -o model.json
    psql -c "INSERT INTO lstm_models (name, model) VALUES ('co2', '$(cat model.json)')"

The graph must be what torch.onnx.export makes of an nn.LSTM followed by an nn.Linear (or
Keras' LSTM + Dense through tf2onnx): one or more stacked LSTM nodes (one per layer, forward
only, default activations, zero initial state) and one linear head, a Gemm or a MatMul + Add
with constant weights, with only shape operations (Transpose, Squeeze, Gather, Slice, ...)
around them. ONNX keeps the gates in the order i, o, f, c and the biases as one B = [Wb, Rb];
the extension (PyTorch) has i, f, g, o and bias_ih, bias_hh: the converter reorders the gate
blocks and splits B, copying every float32 exactly. The input and output scaling, which an
ONNX graph does not carry, are options (identity by default).

Anything else is an error that names the node and the reason: bidirectional or reverse LSTMs,
peepholes, other activations, clip, input_forget, a non-zero initial state, operators that are
not shape operations, more than one linear layer. Needs Debian's python3-onnx and numpy.
"""
import argparse
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

# Operators that only move, select or reshape data (or are the identity at inference).
SHAPE_OPS = {"Transpose", "Squeeze", "Unsqueeze", "Gather", "Slice", "Reshape", "Shape",
             "Constant", "ConstantOfShape", "Concat", "Identity", "Flatten", "Cast", "Expand",
             "Dropout"}
# Operators through which a tensor of zeros stays zeros (the data input is the first).
ZERO_PRESERVING = {"Slice", "Expand", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Tile",
                   "Cast", "Transpose", "Gather"}
# ONNX gate block k of W, R and each half of B, for PyTorch's gates i, f, g, o.
ONNX_BLOCK_FOR_TORCH_GATE = [0, 2, 3, 1]


class ConversionError(Exception):
    """The graph is not one the extension can run."""


class Graph:
    """The nodes, constants and producers of an ONNX graph."""

    def __init__(self, model):
        self.nodes = list(model.graph.node)
        self.constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.producer = {}
        for node in self.nodes:
            for out in node.output:
                self.producer[out] = node
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        self.constants[node.output[0]] = numpy_helper.to_array(attr.t)

    def constant(self, name, what, node):
        """The value of a constant input (an initializer or a Constant node)."""
        if name not in self.constants:
            raise ConversionError(f"{describe(node)}: {what} ({name}) is computed by the graph; "
                                  "it must be a constant (an initializer)")
        return self.constants[name]

    def is_zero(self, name):
        """Is the tensor name all zeros whatever the input (an initial state torch makes)?"""
        if name in self.constants:
            return not np.any(self.constants[name])
        node = self.producer.get(name)
        if node is None:
            return False
        if node.op_type == "ConstantOfShape":
            value = attribute(node, "value", None)
            return value is None or not np.any(numpy_helper.to_array(value))
        if node.op_type in ZERO_PRESERVING:
            return self.is_zero(node.input[0])
        if node.op_type == "Concat":
            return all(self.is_zero(i) for i in node.input)
        return False


def describe(node):
    """A node as errors name it."""
    return f"{node.op_type} node {node.name or '(unnamed)'}"


def attribute(node, name, default):
    """An attribute's value, or default when the node does not set it."""
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def convert_lstm(graph, node, input_size):
    """The PyTorch weights of one LSTM node (one layer): weight_ih (4H, I), weight_hh (4H, H),
    bias_ih (4H), bias_hh (4H), float32."""
    direction = attribute(node, "direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction != "forward":
        raise ConversionError(f"{describe(node)}: direction {direction} is not supported "
                              "(only forward: the extension runs unidirectional LSTMs)")
    activations = [a.decode() if isinstance(a, bytes) else a
                   for a in attribute(node, "activations", [])]
    if activations and activations != ["Sigmoid", "Tanh", "Tanh"]:
        raise ConversionError(f"{describe(node)}: activations {activations} are not supported "
                              "(only the default Sigmoid, Tanh, Tanh)")
    if attribute(node, "clip", None) is not None:
        raise ConversionError(f"{describe(node)}: clip is not supported (the cell state is "
                              "not clipped in PyTorch's LSTM)")
    if attribute(node, "input_forget", 0) != 0:
        raise ConversionError(f"{describe(node)}: input_forget (coupled input and forget "
                              "gates) is not supported")
    if attribute(node, "activation_alpha", None) or attribute(node, "activation_beta", None):
        raise ConversionError(f"{describe(node)}: activation_alpha/beta are not supported")
    hidden = attribute(node, "hidden_size", None)
    inputs = list(node.input) + [""] * (8 - len(node.input))
    w = graph.constant(inputs[1], "W", node).astype(np.float32)
    r = graph.constant(inputs[2], "R", node).astype(np.float32)
    if w.ndim != 3 or w.shape[0] != 1 or r.ndim != 3 or r.shape[0] != 1:
        raise ConversionError(f"{describe(node)}: W and R must have one direction "
                              f"(shapes {w.shape}, {r.shape})")
    if hidden is None:
        hidden = r.shape[2]
    if w.shape[1] != 4 * hidden or r.shape[1:] != (4 * hidden, hidden):
        raise ConversionError(f"{describe(node)}: W {w.shape} and R {r.shape} do not match "
                              f"hidden_size {hidden}")
    if input_size is not None and w.shape[2] != input_size:
        raise ConversionError(f"{describe(node)}: takes {w.shape[2]} inputs, but the layer "
                              f"below gives {input_size}")
    if inputs[3]:
        b = graph.constant(inputs[3], "B", node).astype(np.float32)
        if b.shape != (1, 8 * hidden):
            raise ConversionError(f"{describe(node)}: B has shape {b.shape}, expected "
                                  f"(1, {8 * hidden})")
        b = b[0]
    else:
        b = np.zeros(8 * hidden, dtype=np.float32)
    # inputs[4], sequence_lens, only shortens padded batches: a series runs to its last row.
    for k, what in ((5, "initial_h"), (6, "initial_c")):
        if inputs[k] and not graph.is_zero(inputs[k]):
            raise ConversionError(f"{describe(node)}: {what} must be zero (the extension starts "
                                  "every series from a zero state)")
    if inputs[7]:
        p = graph.constant(inputs[7], "P (peepholes)", node)
        if np.any(p):
            raise ConversionError(f"{describe(node)}: peepholes (P) are not supported")

    def torch_order(m):
        """Rows of the 4 gate blocks of m (4H, ...) from ONNX i, o, f, c to PyTorch i, f, g, o."""
        blocks = [m[k * hidden:(k + 1) * hidden] for k in range(4)]
        return np.concatenate([blocks[k] for k in ONNX_BLOCK_FOR_TORCH_GATE])

    return hidden, w.shape[2], {
        "weight_ih": torch_order(w[0]),
        "weight_hh": torch_order(r[0]),
        "bias_ih": torch_order(b[:4 * hidden]),
        "bias_hh": torch_order(b[4 * hidden:]),
    }


def convert_head(graph, linear_nodes, hidden):
    """head.weight (O, H) and head.bias (O) of the graph's one linear layer."""
    gemms = [n for n in linear_nodes if n.op_type == "Gemm"]
    matmuls = [n for n in linear_nodes if n.op_type == "MatMul"]
    adds = [n for n in linear_nodes if n.op_type == "Add"]
    if len(gemms) + len(matmuls) != 1:
        raise ConversionError(f"expected one linear layer (Gemm, or MatMul + Add) after the "
                              f"LSTM, found {len(gemms)} Gemm and {len(matmuls)} MatMul nodes")
    if gemms:
        node = gemms[0]
        if adds:
            raise ConversionError(f"{describe(adds[0])}: an Add besides the Gemm head is not "
                                  "supported")
        if attribute(node, "alpha", 1.0) != 1.0 or attribute(node, "beta", 1.0) != 1.0:
            raise ConversionError(f"{describe(node)}: alpha and beta must be 1")
        if attribute(node, "transA", 0) != 0:
            raise ConversionError(f"{describe(node)}: transA is not supported")
        weight = graph.constant(node.input[1], "the head's weight", node).astype(np.float32)
        if attribute(node, "transB", 0) == 0:
            weight = weight.T
        if len(node.input) > 2 and node.input[2]:
            bias = graph.constant(node.input[2], "the head's bias", node).astype(np.float32)
            bias = np.broadcast_to(bias.reshape(-1), (weight.shape[0],)).copy()
        else:
            bias = np.zeros(weight.shape[0], dtype=np.float32)
    else:
        node = matmuls[0]
        weight = graph.constant(node.input[1], "the head's weight", node).astype(np.float32).T
        if len(adds) > 1:
            raise ConversionError(f"{describe(adds[1])}: more than one Add after the LSTM")
        if adds:
            add = adds[0]
            if node.output[0] not in add.input:
                raise ConversionError(f"{describe(add)}: does not add to the MatMul's output")
            other = [i for i in add.input if i != node.output[0]][0]
            bias = graph.constant(other, "the head's bias", add).astype(np.float32).reshape(-1)
        else:
            bias = np.zeros(weight.shape[0], dtype=np.float32)
    if weight.ndim != 2 or weight.shape[1] != hidden or bias.shape != (weight.shape[0],):
        raise ConversionError(f"{describe(node)}: head weight {weight.shape} and bias "
                              f"{bias.shape} do not fit hidden size {hidden}")
    return weight, bias


def convert(model):
    """The extension's JSON model (a dict) of an ONNX ModelProto."""
    graph = Graph(model)
    lstms = [n for n in graph.nodes if n.op_type == "LSTM"]
    if not lstms:
        raise ConversionError("the graph has no LSTM node")
    linear = []
    for node in graph.nodes:
        if node.op_type in ("Gemm", "MatMul", "Add"):
            linear.append(node)
        elif node.op_type not in SHAPE_OPS and node.op_type != "LSTM":
            raise ConversionError(f"{describe(node)}: operator {node.op_type} is not supported "
                                  "(only LSTM layers, one linear head and shape operations)")
    weights = {}
    input_size = hidden = None
    for layer, node in enumerate(lstms):
        hidden, in_size, layer_weights = convert_lstm(graph, node, hidden)
        if layer == 0:
            input_size = in_size
        for key, value in layer_weights.items():
            weights[f"{key}_l{layer}"] = value
    head_weight, head_bias = convert_head(graph, linear, hidden)
    weights["head.weight"] = head_weight
    weights["head.bias"] = head_bias
    return {
        "input_size": int(input_size),
        "hidden_size": int(hidden),
        "num_layers": len(lstms),
        "output_size": int(head_weight.shape[0]),
        # float(np.float32) is exact, and its shortest repr reads back to the same float32.
        "weights": {k: np.asarray(v, dtype=np.float32).astype(np.float64).tolist()
                    for k, v in weights.items()},
    }


def floats(text):
    """A comma-separated list of numbers."""
    return [float(x) for x in text.split(",")]


def main():
    """Command line: convert one file, write JSON to stdout or -o."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx_file")
    parser.add_argument("-o", "--output", help="write the JSON here (default: stdout)")
    parser.add_argument("--input-mean", type=floats, help="per input feature, comma-separated")
    parser.add_argument("--input-std", type=floats)
    parser.add_argument("--output-mean", type=floats)
    parser.add_argument("--output-std", type=floats)
    parser.add_argument("--difference", action="store_true",
                        help="the network was trained on first differences of the target")
    args = parser.parse_args()
    try:
        result = convert(onnx.load(args.onnx_file))
    except ConversionError as e:
        print(f"onnx_to_lstm: {args.onnx_file}: {e}", file=sys.stderr)
        sys.exit(2)
    for key in ("input_mean", "input_std", "output_mean", "output_std"):
        value = getattr(args, key)
        if value is not None:
            result[key] = value
    if args.difference:
        result["difference"] = True
    text = json.dumps(result)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
