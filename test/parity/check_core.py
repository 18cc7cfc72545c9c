#!/usr/bin/python3
"""
check_core.py - run the parity fixtures straight through src/core (no server).

A developer tool, not part of the test command (which checks the same
fixtures through SQL in sql/parity.sql). It compiles src/core/*.c into a
shared library, loads it with ctypes, serializes each fixture model in the
layout of src/core/model.h, runs the fast runner (feed, predict, horizon) and
prints the largest relative error against PyTorch per case:

    /usr/bin/python3 test/parity/check_core.py [fixtures.json]

Needs numpy and a C compiler with OpenBLAS; not torch.
"""

import ctypes
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAGIC = 0x4D54534C
VERSION = 1
FLAG_DIFFERENCE = 1


class Series(ctypes.Structure):
    """LstmSeries from src/core/cell.h."""
    _fields_ = [("steps", ctypes.c_int64), ("last_value", ctypes.c_double),
                ("h", ctypes.POINTER(ctypes.c_float)), ("c", ctypes.POINTER(ctypes.c_float))]


def build_library(tmp):
    """Compile src/core into a shared library and load it."""
    sources = sorted(os.path.join(ROOT, "src/core", f)
                     for f in os.listdir(os.path.join(ROOT, "src/core")) if f.endswith(".c"))
    lib = os.path.join(tmp, "liblstmcore.so")
    subprocess.check_call(["cc", "-std=gnu11", "-O2", "-shared", "-fPIC", "-o", lib] + sources +
                          ["-lopenblas", "-lm"])
    core = ctypes.CDLL(lib)
    core.lstm_model_validate.restype = ctypes.c_int
    core.lstm_model_validate.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    core.lstm_runner_nbytes.restype = ctypes.c_size_t
    core.lstm_runner_nbytes.argtypes = [ctypes.c_void_p]
    core.lstm_model_view.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    core.lstm_runner_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    core.lstm_series_init.argtypes = [ctypes.POINTER(Series), ctypes.c_void_p, ctypes.c_void_p]
    core.lstm_runner_feed.argtypes = [ctypes.c_void_p, ctypes.POINTER(Series), ctypes.c_void_p]
    core.lstm_runner_predict.argtypes = [ctypes.c_void_p, ctypes.POINTER(Series),
                                         ctypes.c_void_p]
    core.lstm_runner_horizon.argtypes = [ctypes.c_void_p, ctypes.POINTER(Series),
                                         ctypes.POINTER(Series), ctypes.c_int, ctypes.c_void_p]
    return core


def serialize(model):
    """The model JSON as the bytes of an LstmModelHeader plus its float block."""
    I, H, L, O = (model[k] for k in ("input_size", "hidden_size", "num_layers", "output_size"))
    flags = FLAG_DIFFERENCE if model.get("difference") else 0
    header = np.zeros(9, dtype=np.uint32)
    header[0] = MAGIC
    header[1] = VERSION | (flags << 16)
    header[2:6] = [I, H, L, O]
    w = model["weights"]
    arrays = []
    for k in range(L):
        for name in ("weight_ih_l%d", "weight_hh_l%d", "bias_ih_l%d", "bias_hh_l%d"):
            arrays.append(w[name % k])
    arrays += [w["head.weight"], w["head.bias"]]
    arrays += [model.get("input_mean", [0.0] * I), model.get("input_std", [1.0] * I),
               model.get("output_mean", [0.0] * O), model.get("output_std", [1.0] * O)]
    data = np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in arrays])
    return header.tobytes() + data.tobytes(), (I, H, L, O)


def relative_error(a, b):
    """Largest |a - b| / max(1, |b|)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def check_case(core, case):
    """Run one fixture case through the runner; the three largest errors."""
    blob, (I, H, L, O) = serialize(case["model"])
    model = ctypes.create_string_buffer(blob, len(blob))
    errmsg = ctypes.create_string_buffer(256)
    err = core.lstm_model_validate(model, len(blob), errmsg)
    if err != 0:
        raise RuntimeError("%s: validate: %s" % (case["name"], errmsg.value.decode()))
    view = ctypes.create_string_buffer(4096)
    core.lstm_model_view(model, view)
    dims = view  # LstmDims is the first member of LstmModelView
    runner = ctypes.create_string_buffer(1024)
    memory = ctypes.create_string_buffer(core.lstm_runner_nbytes(dims))
    core.lstm_runner_init(runner, view, memory)
    series, work = Series(), Series()
    state = (ctypes.c_float * (2 * L * H))()
    work_state = (ctypes.c_float * (2 * L * H))()
    core.lstm_series_init(ctypes.byref(series), dims, state)
    core.lstm_series_init(ctypes.byref(work), dims, work_state)
    features = (ctypes.c_double * I)()
    outputs = (ctypes.c_double * O)()
    running = []
    for row in case["inputs"]:
        for i, v in enumerate(row):
            features[i] = v
        core.lstm_runner_feed(runner, ctypes.byref(series), features)
        core.lstm_runner_predict(runner, ctypes.byref(series), outputs)
        running.append(outputs[0])
    index = case["running"]["index"]
    err_running = relative_error([running[i] for i in index], case["running"]["value"])
    err_forecast = relative_error([running[-1]], [case["forecast"]])
    err_horizon = 0.0
    if "horizon" in case:
        K = len(case["horizon"])
        forecasts = (ctypes.c_double * K)()
        core.lstm_runner_horizon(runner, ctypes.byref(series), ctypes.byref(work), K, forecasts)
        err_horizon = relative_error(list(forecasts), case["horizon"])
    return err_forecast, err_running, err_horizon


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures.json")
    cases = json.load(open(path))["cases"]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        core = build_library(tmp)
        print("%-20s %3s %4s %2s %6s  %-9s %-9s %-9s" % ("case", "I", "H", "L", "T", "forecast",
                                                         "running", "horizon"))
        for case in cases:
            errors = check_case(core, case)
            worst = max(worst, *errors)
            print("%-20s %3d %4d %2d %6d  %.2e  %.2e  %.2e" % (
                case["name"], case["input_size"], case["hidden_size"], case["num_layers"],
                case["rows"], *errors))
    print("largest relative error %.2e (tolerance %g)" % (worst, 1e-5))
    sys.exit(0 if worst <= 1e-5 else 1)


if __name__ == "__main__":
    main()
