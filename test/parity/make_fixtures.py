#!/usr/bin/python3
"""
make_fixtures.py - PyTorch reference cases for the lstm_forecast parity suite.

Run with Debian's python3-torch (1.13):

    /usr/bin/python3 test/parity/make_fixtures.py          # writes test/parity/fixtures.json

Every case is an nn.LSTM(I, H, L, batch_first=True) followed by an
nn.Linear(H, O) head, with PyTorch's default initialisation drawn from a fixed
seed, a fixed input/output scaling and optionally the difference flag. The
expected values follow the semantics of src/core/cell.c:

  - a row's features are scaled in double and rounded to float32:
    x = float32((raw - input_mean) / input_std)   (input_mean/std are float32)
  - the network and the head run in float32 (PyTorch's default);
  - an output is unscaled in double: y = double(y_scaled) * output_std + output_mean;
  - difference: the network sees first differences of feature 0; the first row
    only records its value, later rows feed x0 = value - last_value, and the
    last value is added back to output 0;
  - a horizon forecast feeds the raw forecast vector back as the next row.

For each case the file holds:
  "forecast"  the one-step forecast (output 0) after the last row,
  "running"   {"index": [...], "value": [...]}: the forecast after row index
              (0-based), for every row or, for long sequences, every k-th row
              and the last,
  "horizon"   (univariate models only) K forecasts fed back.

Every case is also run with the same weights in float64; the float32 and
float64 results must agree to 1e-6 relative (absolute below magnitude 1),
otherwise the case is ill-conditioned and is redrawn from the next seed.
The output is deterministic: fixed seeds, one thread.
"""

import json
import os
import sys

import numpy as np
import torch

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.json")
CONDITION_TOLERANCE = 1e-6  # float32 vs float64, relative (absolute below 1)
PARITY_TOLERANCE = 1e-5  # what the SQL suite checks against

# name, input I, hidden H, layers L, output O, rows T, difference, horizon K,
# running stride (store every k-th running forecast; 1 = all), data kind
CASES = [
    # univariate, short sequences
    ("u_h1_l1_t1", 1, 1, 1, 1, 1, False, 5, 1, "sine"),
    ("u_h2_l1_t2", 1, 2, 1, 1, 2, False, 5, 1, "sine"),
    ("u_h1_l3_t100", 1, 1, 3, 1, 100, False, 6, 1, "sine"),
    ("u_h7_l2_t100", 1, 7, 2, 1, 100, False, 10, 1, "ar"),
    ("u_h32_l1_t100", 1, 32, 1, 1, 100, False, 12, 1, "sine"),
    ("u_h33_l2_t64", 1, 33, 2, 1, 64, False, 7, 1, "ar"),
    ("u_h32_l3_t500", 1, 32, 3, 1, 500, False, 8, 1, "sine"),
    ("u_h64_l2_t200", 1, 64, 2, 1, 200, False, 10, 1, "co2"),
    ("u_h256_l1_t40", 1, 256, 1, 1, 40, False, 5, 1, "sine"),
    # univariate, long sequences with small hidden sizes
    ("u_h4_l1_t10000", 1, 4, 1, 1, 10000, False, 20, 100, "sine"),
    ("u_h3_l3_t10000", 1, 3, 3, 1, 10000, False, 10, 100, "ar"),
    ("u_h16_l1_t2000", 1, 16, 1, 1, 2000, False, 10, 20, "co2"),
    # differenced
    ("d_h5_l1_t1", 1, 5, 1, 1, 1, True, 4, 1, "sine"),
    ("d_h6_l2_t2", 1, 6, 2, 1, 2, True, 4, 1, "ar"),
    ("d_h16_l1_t1000", 1, 16, 1, 1, 1000, True, 10, 10, "co2"),
    ("d_h8_l2_t10000", 1, 8, 2, 1, 10000, True, 10, 100, "sine"),
    ("d_i3_h12_l1_t30", 3, 12, 1, 2, 30, True, 0, 1, "ar"),
    # multivariate
    ("m_i2_h7_l1_t50", 2, 7, 1, 1, 50, False, 0, 1, "sine"),
    ("m_i3_h32_l2_t100", 3, 32, 2, 3, 100, False, 0, 1, "ar"),
    ("m_i4_h2_l3_t300", 4, 2, 3, 2, 300, False, 0, 1, "sine"),
    ("m_i5_h64_l1_t100", 5, 64, 1, 1, 100, False, 0, 1, "ar"),
    ("m_i5_h1_l2_t2", 5, 1, 2, 1, 2, False, 0, 1, "sine"),
    ("m_i2_h16_l1_t10000", 2, 16, 1, 1, 10000, False, 0, 200, "sine"),
    ("m_i5_h100_l1_t1", 5, 100, 1, 4, 1, False, 0, 1, "ar"),
]

BASE_SEED = 20240601
MAX_RESEEDS = 20


def f32_json(value):
    """
    A float32 as the shortest decimal that reads back (through float32 or
    through double then float32) as the same float32; the exact double
    otherwise.
    """
    f = np.float32(value)
    short = float(repr(f))
    if np.float32(short) == f and np.float32(np.float64(short)) == f:
        return short
    return float(f)


def f32_list(array):
    """Nested lists of a float32 array, each element as f32_json."""
    if array.ndim == 1:
        return [f32_json(v) for v in array]
    return [f32_list(row) for row in array]


def make_data(kind, rng, T, I):
    """T x I raw feature rows, rounded to 4 decimals (as sensor data would be)."""
    t = np.arange(T, dtype=np.float64)
    rows = np.zeros((T, I))
    for i in range(I):
        if kind == "sine":
            period = rng.uniform(8, 60)
            level = rng.uniform(-2, 2)
            amp = rng.uniform(0.5, 2)
            col = level + amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
            col += 0.1 * amp * rng.standard_normal(T)
        elif kind == "ar":
            phi = rng.uniform(0.5, 0.95)
            col = np.zeros(T)
            noise = rng.standard_normal(T)
            for k in range(1, T):
                col[k] = phi * col[k - 1] + noise[k]
            col += rng.uniform(-1, 1)
        else:  # "co2": a large level with a trend and a season, like weekly CO2 ppm
            col = 315 + 0.03 * t + 3 * np.sin(2 * np.pi * t / 52) + 0.3 * rng.standard_normal(T)
        rows[:, i] = col
    return np.round(rows, 4)


def make_scaling(rng, raw, difference, O, kind):
    """float32 input mean/std from the data (as training would), output mean/std."""
    I = raw.shape[1]
    feats = raw.copy()
    if difference:
        feats = feats[1:] if len(feats) > 1 else feats
        if len(raw) > 1:
            feats[:, 0] = np.diff(raw[:, 0])
    mean = feats.mean(axis=0) + rng.uniform(-0.1, 0.1, I)
    std = feats.std(axis=0) * rng.uniform(0.8, 1.2, I) + 0.05
    input_mean = mean.astype(np.float32)
    input_std = std.astype(np.float32)
    # output 0 forecasts feature 0 (or its difference); other outputs O(1)
    output_mean = np.concatenate([[mean[0]], rng.uniform(-1, 1, O - 1)]).astype(np.float32)
    output_std = np.concatenate([[std[0]], rng.uniform(0.5, 2, O - 1)]).astype(np.float32)
    if kind != "co2":
        # keep forecasts O(1) so the absolute tolerance below 1 is sensitive
        output_mean[0] = np.float32(rng.uniform(-0.5, 0.5))
        output_std[0] = np.float32(rng.uniform(0.5, 1.5))
    return input_mean, input_std, output_mean, output_std


class Case:
    """One reference case: the network, its scaling and its raw input rows."""

    def __init__(self, spec, seed):
        (self.name, self.I, self.H, self.L, self.O, self.T, self.difference, self.K,
         self.stride, self.kind) = spec
        self.seed = seed
        torch.manual_seed(seed)
        self.lstm = torch.nn.LSTM(self.I, self.H, self.L, batch_first=True)
        self.head = torch.nn.Linear(self.H, self.O)
        rng = np.random.RandomState(seed)
        self.raw = make_data(self.kind, rng, self.T, self.I)
        (self.input_mean, self.input_std, self.output_mean,
         self.output_std) = make_scaling(rng, self.raw, self.difference, self.O, self.kind)

    def scale(self, rows, dtype):
        """Scaled network input for raw feature rows (already differenced)."""
        x = (rows - self.input_mean.astype(np.float64)) / self.input_std.astype(np.float64)
        if dtype == torch.float32:
            x = x.astype(np.float32)
        return torch.tensor(x, dtype=dtype).reshape(1, -1, self.I)

    def unscale(self, y_scaled, last_value):
        """Raw outputs (double) for scaled head outputs (float32 or float64)."""
        y = y_scaled.detach().numpy().astype(np.float64)
        y = y * self.output_std.astype(np.float64) + self.output_mean.astype(np.float64)
        if self.difference:
            y[..., 0] += last_value
        return y

    def run(self, dtype):
        """Running forecasts (output 0 after every row) and the horizon, in dtype."""
        lstm = torch.nn.LSTM(self.I, self.H, self.L, batch_first=True).to(dtype)
        head = torch.nn.Linear(self.H, self.O).to(dtype)
        lstm.load_state_dict({k: v.to(dtype) for k, v in self.lstm.state_dict().items()})
        head.load_state_dict({k: v.to(dtype) for k, v in self.head.state_dict().items()})
        raw = self.raw
        with torch.no_grad():
            if self.difference:
                # row 0 only records its value; row t >= 1 feeds raw[t] - raw[t-1]
                net_rows = raw[1:].copy()
                net_rows[:, 0] = np.diff(raw[:, 0])
            else:
                net_rows = raw
            zero = torch.zeros(self.L, 1, self.H, dtype=dtype)
            state = (zero, zero.clone())
            if len(net_rows) > 0:
                out, state = lstm(self.scale(net_rows, dtype), state)
                tops = out[0]  # (T', H) top-layer h after each network step
            else:
                tops = torch.zeros(0, self.H, dtype=dtype)
            if self.difference:
                tops = torch.cat([torch.zeros(1, self.H, dtype=dtype), tops])
                last_values = raw[:, 0]
            else:
                last_values = np.zeros(self.T)
            y = self.unscale(head(tops), last_values)  # (T, O)
            running = y[:, 0]

            horizon = []
            last_value = raw[-1, 0]
            for k in range(self.K):
                outputs = self.unscale(head(state[0][-1, 0]), last_value)
                horizon.append(outputs[0])
                if k + 1 == self.K:
                    break
                features = outputs.copy()
                if self.difference:
                    features[0] = outputs[0] - last_value
                    last_value = outputs[0]
                _, state = lstm(self.scale(features[None, :], dtype), state)
        return np.array(running), np.array(horizon)

    def model_json(self):
        """The model in the lstm_model JSON form (PyTorch state_dict names)."""
        weights = {}
        for k, v in self.lstm.state_dict().items():
            weights[k] = f32_list(v.numpy())
        for k, v in self.head.state_dict().items():
            weights["head." + k] = f32_list(v.numpy())
        return {
            "input_size": self.I,
            "hidden_size": self.H,
            "num_layers": self.L,
            "output_size": self.O,
            "weights": weights,
            "input_mean": f32_list(self.input_mean),
            "input_std": f32_list(self.input_std),
            "output_mean": f32_list(self.output_mean),
            "output_std": f32_list(self.output_std),
            "difference": self.difference,
        }


def relative_error(a, b):
    """Largest |a - b| / max(1, |b|)."""
    if len(a) == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def build(spec, case_number):
    """A well-conditioned case for spec, reseeding until float32 matches float64."""
    for attempt in range(MAX_RESEEDS):
        seed = BASE_SEED + 1000 * case_number + attempt
        case = Case(spec, seed)
        run32, hor32 = case.run(torch.float32)
        run64, hor64 = case.run(torch.float64)
        cond = max(relative_error(run32, run64), relative_error(hor32, hor64))
        if cond <= CONDITION_TOLERANCE:
            return case, run32, hor32, cond
        print("  %s: seed %d ill-conditioned (float32 vs float64 %.2e), reseeding"
              % (spec[0], seed, cond), file=sys.stderr)
    sys.exit("%s: no well-conditioned seed in %d tries" % (spec[0], MAX_RESEEDS))


def main():
    torch.set_num_threads(1)
    out = []
    for n, spec in enumerate(CASES):
        case, running, horizon, cond = build(spec, n)
        index = list(range(0, case.T, case.stride))
        if index[-1] != case.T - 1:
            index.append(case.T - 1)
        entry = {
            "name": case.name,
            "seed": case.seed,
            "input_size": case.I,
            "hidden_size": case.H,
            "num_layers": case.L,
            "output_size": case.O,
            "rows": case.T,
            "difference": case.difference,
            "float64_agreement": float("%.3g" % cond),
            "model": case.model_json(),
            "inputs": [[float(v) for v in row] for row in case.raw],
            "forecast": float(running[-1]),
            "running": {"index": index, "value": [float(running[i]) for i in index]},
        }
        if case.K > 0:
            entry["horizon"] = [float(v) for v in horizon]
        out.append(entry)
        print("%-20s I=%d H=%-3d L=%d O=%d T=%-5d diff=%d K=%-2d seed=%d f32/f64 %.1e"
              % (case.name, case.I, case.H, case.L, case.O, case.T, case.difference, case.K,
                 case.seed, cond), file=sys.stderr)

    with open(FIXTURES, "w") as f:
        f.write('{"generator": "test/parity/make_fixtures.py", "torch": "%s",\n' %
                torch.__version__.split("+")[0])
        f.write(' "tolerance": %s,\n "cases": [\n' % json.dumps(PARITY_TOLERANCE))
        f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in out))
        f.write("\n]}\n")
    print("wrote %s (%d cases, %d bytes)" % (FIXTURES, len(out), os.path.getsize(FIXTURES)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
