#!/usr/bin/python3
"""
make_series_fixtures.py - PyTorch reference cases for series-scaled models
(model format version 2: per-series normaliser, direct multi-step head,
ensemble members), checked by sql/parity.sql next to make_fixtures.py's.

Run with Debian's python3-torch:

    /usr/bin/python3 test/parity/make_series_fixtures.py   # writes test/parity/series_fixtures.json

The normaliser is a port of norm_step and build_features of
/work/research/m4_weekly_study.py in float64 (src/core/normalizer.h has the
same formulas): z = log(y) or y; d = z - z_prev; scale is the running mean of
|d| (weight max(1/(n-1), 1/52)), level the running mean of z (weight
max(1/n, 1/13)); s = max(scale, 1e-3); inputs clip(d/s), clip((z-level)/s) and,
with a season m > 1, clip((z_j - z)/s) for the row j one season before the
row k steps ahead (0 before the series has it), all clipped to [-10, 10] and
rounded to float32.

Every member is an nn.LSTM(I, H, L, batch_first=True) + nn.Linear(H, O) in
float32 with PyTorch's default initialisation from its own seed. After row t
member j's head gives o_j (O values, identity output scaling); its raw
forecast of row t+k is exp(z_t + s_t o_j[k]) (or z_t + s_t o_j[k] without the
log), computed in float64; the forecast is the median over members (the mean
of the two middle values for an even count).

For each case: "inputs" (the raw values), "forecast" (f[1] after the last
row), "horizon" (f[1..O] after the last row), "running" (f[1] after every row).
"""

import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "series_fixtures.json")
W_LEVEL, W_SCALE, EPS, CLIP = 13, 52, 1e-3, 10.0
O = 3  # the direct head's horizon in every case

# name, season, log, members, hidden, layers, rows, data kind
CASES = [
    ("ss_s4_log_m3", 4, True, 3, 8, 1, 60, "seasonal_positive"),
    ("ss_s0_log_m3", 0, True, 3, 6, 1, 40, "trend_positive"),
    ("ss_s4_lin_m2", 4, False, 2, 5, 2, 50, "seasonal_signed"),
    ("ss_s0_lin_m2", 0, False, 2, 7, 1, 45, "seasonal_signed"),
]


def make_data(kind, rng, T):
    t = np.arange(T, dtype=np.float64)
    if kind == "seasonal_positive":
        return 100.0 * np.exp(0.3 * np.sin(2 * np.pi * t / 4) + 0.01 * t + 0.05 * rng.standard_normal(T))
    if kind == "trend_positive":
        return 20.0 + 0.5 * t + rng.standard_normal(T)
    return 3.0 * np.sin(2 * np.pi * t / 4) + 0.05 * t - 1.0 + 0.3 * rng.standard_normal(T)


def features(values, season, log):
    """The normaliser's inputs after every row (T, I) as float32, and z, s per row."""
    z_all = np.log(values) if log else values.copy()
    nin = 2 + (O if season > 1 else 0)
    X = np.zeros((len(values), nin), dtype=np.float32)
    S = np.zeros(len(values))
    n, zprev, level, scale = 0, 0.0, 0.0, 0.0
    for t, z in enumerate(z_all):
        n += 1
        if n == 1:
            d, level, scale = 0.0, z, 0.0
        else:
            d = z - zprev
            scale = scale + max(1.0 / (n - 1), 1.0 / W_SCALE) * (abs(d) - scale)
            level = level + max(1.0 / n, 1.0 / W_LEVEL) * (z - level)
        zprev = z
        s = max(scale, EPS)
        S[t] = s
        row = [np.clip(d / s, -CLIP, CLIP), np.clip((z - level) / s, -CLIP, CLIP)]
        if season > 1:
            for k in range(1, O + 1):
                j = t + k - season * ((k + season - 1) // season)
                row.append(np.clip((z_all[j] - z) / s, -CLIP, CLIP) if j >= 0 else 0.0)
        X[t] = np.array(row, dtype=np.float64).astype(np.float32)
    return X, z_all, S


def f32(v):
    return float(repr(np.float32(v)))


def member_json(lstm, head):
    w = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    out = {}
    for k, v in w.items():
        out[k] = [[f32(x) for x in r] for r in v] if v.ndim == 2 else [f32(x) for x in v]
    out["head.weight"] = [[f32(x) for x in r] for r in head.weight.detach().numpy()]
    out["head.bias"] = [f32(x) for x in head.bias.detach().numpy()]
    return out


def build(spec, seed):
    name, season, log, members, hidden, layers, T, kind = spec
    rng = np.random.default_rng(seed)
    values = make_data(kind, rng, T)
    X, z_all, S = features(values, season, log)
    nin = X.shape[1]
    forecasts = []  # (members, T, O) raw forecasts
    weights = []
    for m in range(members):
        torch.manual_seed(seed * 100 + m)
        lstm = torch.nn.LSTM(nin, hidden, layers, batch_first=True)
        head = torch.nn.Linear(hidden, O)
        with torch.no_grad():
            o = head(lstm(torch.from_numpy(X).unsqueeze(0))[0])[0].numpy().astype(np.float64)
        zt = z_all[:, None] + S[:, None] * o
        forecasts.append(np.exp(zt) if log else zt)
        weights.append(member_json(lstm, head))
    median = np.median(np.stack(forecasts), axis=0)  # (T, O)
    model = {"format_version": 2, "input_size": nin, "hidden_size": hidden,
             "num_layers": layers, "output_size": O, "scaling": "series", "log": log,
             "season": season, "weights": weights}
    return {"name": name, "seed": seed, "season": season, "log": log, "members": members,
            "rows": T, "model": model, "inputs": [float(repr(v)) for v in values],
            "forecast": float(median[-1, 0]), "horizon": [float(v) for v in median[-1]],
            "running": [float(v) for v in median[:, 0]]}


def main():
    torch.set_num_threads(1)
    cases = [build(spec, 20261130 + i) for i, spec in enumerate(CASES)]
    with open(OUT, "w") as f:
        f.write('{"generator": "test/parity/make_series_fixtures.py", "torch": %s,\n "cases": [\n'
                % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
