#!/usr/bin/python3
"""score_study.py - candidate anomaly scores on the model's residuals, scored like NAB.

    score_study.py NAB_DIR EXPORT_CSV [CATEGORY...]

EXPORT_CSV is the per-row export of nab_evaluate.sh (NAB_EXPORT=FILE): file, rn, value,
forecast (made after the row) and score (lstm_anomaly_score: the erf score before issue 11,
the recipe below since; the start-up lines compare the database's score with both replicas). The forecasts are
computed once in the database; every candidate here is a streaming function of the residual
sequence r_t = value_t - forecast_{t-1} with O(1) state per series (O(window) for the ring
buffer variant), so trying one costs a few seconds of Python.

Each candidate is scored with NAB's rules: its optimiser's threshold sweep (the best
threshold per profile over all files together), its scoring function (scaled sigmoid
around the label windows, probationary rows ignored) and its normalisation (null detector
= 0, perfect = 100, both restricted to the categories). The sweep is a vectorised copy of
nab/sweeper.py, checked against NAB's own Sweeper on the landed score at start-up.

Default categories: the four development ones; the held-out ones are refused unless
--held-out is given. Prints one row per candidate: the three normalized profile scores, the
standard profile's threshold, and the number of tied values among the top 1 % of scores
(tied rows cross every threshold together; a score that does not saturate has none).
"""

import csv
import json
import math
import os
import sys
import time

import numpy as np

DEV = ("artificialNoAnomaly", "artificialWithAnomaly", "realKnownCause", "realAWSCloudwatch")
HELD_OUT = ("realAdExchange", "realTraffic", "realTweets")
COSTS = {  # NAB's config/profiles.json: (tpWeight, fpWeight, fnWeight)
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}
PROFILES = tuple(COSTS)
SQRT2 = math.sqrt(2.0)
# The recommended score (see README.md): likelihood() with these arguments.
RECIPE = {"zwindow": 100, "zwarmup": 10, "quantity": "cap", "cap": 5.0, "short": 10,
          "average": "ring", "long": 1000, "lwarmup": 100, "spatial": 0.05, "repeat": 30,
          "alert": 0.5}


# ---------------------------------------------------------------- data and NAB's scoring


class File:
    """One NAB data file: residuals, landed scores, label windows as row indices."""

    def __init__(self, name, timestamps, values, forecasts, landed, windows):
        self.name = name
        self.n = len(values)
        self.values = np.array(values)
        # residual[i] = value[i] - forecast made after row i-1 (NaN for row 0)
        self.residuals = np.full(self.n, np.nan)
        self.residuals[1:] = self.values[1:] - np.array(forecasts[:-1], dtype=float)
        self.landed = np.array(landed)
        index = {t: i for i, t in enumerate(timestamps)}
        self.windows = [(index[a[:19]], index[b[:19]]) for a, b in windows]
        self.probation = int(min(math.floor(0.15 * self.n), 0.15 * 5000))


def load(nab, export, categories):
    """The files of the categories with the export's forecasts and landed scores."""
    rows = {}
    with open(export, newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["file"], []).append(r)
    with open(os.path.join(nab, "labels", "combined_windows.json")) as f:
        labels = json.load(f)
    files = []
    for category in categories:
        for name in sorted(os.listdir(os.path.join(nab, "data", category))):
            rel = category + "/" + name
            with open(os.path.join(nab, "data", rel), newline="") as f:
                timestamps = [r[0][:19] for r in list(csv.reader(f))[1:]]
            got = rows[rel]
            assert len(got) == len(timestamps), rel
            files.append(File(rel, timestamps, [float(r["value"]) for r in got],
                              [float(r["forecast"]) if r["forecast"] else math.nan for r in got],
                              [float(r["score"]) if r["score"] else 0.0 for r in got],
                              labels[rel]))
    return files


def scaled_sigmoid(x):
    """nab.sweeper.scaledSigmoid."""
    return -1.0 if x > 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def sweep_weights(f, profile):
    """Per scorable row (not probationary): NAB's weighted sweep score and window number
    (-1 outside windows), as nab.sweeper.Sweeper.calcSweepScore gives them."""
    tp_w, fp_w, _ = COSTS[profile]
    max_tp = scaled_sigmoid(-1.0)
    weight = np.empty(f.n)
    window = np.full(f.n, -1)
    prev_right = prev_width = None
    k = 0
    i = 0
    while i < f.n:
        if k < len(f.windows) and i == f.windows[k][0]:
            left, right = f.windows[k]
            width = float(right - left + 1)
            for j in range(left, right + 1):
                weight[j] = scaled_sigmoid(-(right - j + 1) / width) * tp_w / max_tp
                window[j] = k
            prev_right, prev_width = right, width
            k += 1
            i = right + 1
            continue
        if prev_right is None:
            weight[i] = -1.0 * fp_w
        else:
            weight[i] = scaled_sigmoid(abs(prev_right - i) / (prev_width - 1.0)) * fp_w
        i += 1
    keep = np.arange(f.n) >= f.probation
    return weight[keep], window[keep], keep


class Scorer:
    """NAB's optimiser + scorer + normaliser for a fixed set of files."""

    def __init__(self, files, null_scores):
        self.files = files
        self.parts = {}
        for profile in PROFILES:
            weights, windows, keeps = [], [], []
            offset = 0
            for f in files:
                w, win, keep = sweep_weights(f, profile)
                weights.append(w)
                windows.append(np.where(win >= 0, win + offset, -1))
                keeps.append(keep)
                offset += len(f.windows)
            self.parts[profile] = (np.concatenate(weights), np.concatenate(windows), keeps)
        self.perfect = sum(len(f.windows) for f in files)
        self.base = {p: self.raw(null_scores, p)[0] for p in PROFILES}

    def raw(self, scores, profile):
        """NAB's optimised raw score: (best score, its threshold, tp rows, fp rows)."""
        weight, window, keeps = self.parts[profile]
        fn_w = COSTS[profile][2]
        s = np.concatenate([sc[k] for sc, k in zip(scores, keeps)])
        order = np.argsort(-s, kind="stable")
        s, w, win = s[order], weight[order], window[order]
        fp = np.where(win < 0, w, 0.0)
        gain = np.zeros(len(s))
        in_window = win >= 0
        windows_seen = np.unique(win[in_window])
        for k in windows_seen:
            idx = np.nonzero(win == k)[0]
            best = np.maximum.accumulate(np.maximum(w[idx], -fn_w))
            gain[idx] = np.diff(np.concatenate(([-fn_w], best)))
        total = -fn_w * len(windows_seen) + np.cumsum(fp + gain)
        # a threshold takes every row scoring at least it: evaluate at the last row of
        # each run of equal scores; "no detection" (threshold 1.1) comes first
        last = np.nonzero(np.append(s[1:] != s[:-1], True))[0]
        candidates = np.concatenate(([-fn_w * len(windows_seen)], total[last]))
        thresholds = np.concatenate(([1.1], s[last]))
        best = int(np.argmax(candidates))
        n_det = 0 if best == 0 else last[best - 1] + 1
        return (candidates[best], thresholds[best], int(in_window[:n_det].sum()),
                int((~in_window[:n_det]).sum()))

    def normalized(self, scores):
        """{profile: (normalized score, threshold, tp rows, fp rows)}."""
        out = {}
        for p in PROFILES:
            raw, threshold, tp, fp = self.raw(scores, p)
            tp_w = COSTS[p][0]
            out[p] = (100.0 * (raw - self.base[p]) / (self.perfect * tp_w - self.base[p]),
                      threshold, tp, fp)
        return out


def check_against_nab(nab, files, scores):
    """Our sweep equals nab.sweeper's optimiser on these scores (all profiles)."""
    sys.path.insert(0, nab)
    from nab.sweeper import Sweeper
    import pandas

    for profile in PROFILES:
        tp_w, fp_w, fn_w = COSTS[profile]
        sweeper = Sweeper(probationPercent=0.15,
                          costMatrix={"tpWeight": tp_w, "fpWeight": fp_w, "fnWeight": fn_w})
        rows = []
        for f, sc in zip(files, scores):
            ts = list(pandas.RangeIndex(f.n))
            rows += sweeper.calcSweepScore(ts, list(sc), [(a, b) for a, b in f.windows], f.name)
        best = sorted(sweeper.calcScoreByThreshold(rows), key=lambda x: x.score, reverse=True)[0]
        yield profile, best.score, best.threshold


# ---------------------------------------------------------------- streaming pieces


def log_tail(u):
    """log Q(u), Q(u) = P(N(0,1) > u), without underflow: erfc below u = 30, the
    asymptotic series above (relative error < 1e-9 there)."""
    if u < 30.0:
        return math.log(0.5 * math.erfc(u / SQRT2))
    u2 = u * u
    return -0.5 * u2 - math.log(u) - 0.5 * math.log(2.0 * math.pi) + math.log(
        1.0 - 1.0 / u2 + 3.0 / (u2 * u2))


class Running:
    """Running mean and variance with weight max(1/n, 1/window) (the landed statistics)."""

    __slots__ = ("window", "count", "mean", "var")

    def __init__(self, window):
        self.window, self.count, self.mean, self.var = window, 0, 0.0, 0.0

    def add(self, x):
        self.count += 1
        w = 1.0 / self.count if self.count < self.window else 1.0 / self.window
        d = x - self.mean
        self.mean += w * d
        self.var = (1.0 - w) * (self.var + w * d * d)

    def z(self, x):
        """(x - mean) / sd; +-inf or 0 when the variance is 0."""
        d = x - self.mean
        if self.var <= 0.0:
            return 0.0 if d == 0.0 else math.copysign(math.inf, d)
        return d / math.sqrt(self.var)


def landed(f, window=100, warmup=10):
    """The landed score: erf(|z| / sqrt 2) of the residual against the running statistics."""
    out = np.zeros(f.n)
    stats = Running(window)
    for i in range(1, f.n):
        r = f.residuals[i]
        if stats.count >= warmup:
            out[i] = math.erf(abs(stats.z(r)) / SQRT2)
        stats.add(r)
    return out


def likelihood(f, zwindow=100, zwarmup=10, short=10, average="ring", long=1000, lwarmup=100,
               quantity="z", cap=20.0, scale=5.0 * math.log(10.0), repeat=0, alert=0.5,
               spatial=0.0):
    """Anomaly likelihood on the residuals.

    z_t = |residual - mean| / sd against the residual statistics (window zwindow, scored
    from zwarmup residuals); q_t = a bounded or raw function of z_t (quantity); a_t = the
    mean of q over the last `short` scored rows (ring buffer) or its exponential average
    (weight 2/(short+1)); u_t = (a_t - M) / S against the running statistics of a (window
    long, once lwarmup values are known; a_t is added after it is judged); L_t = -log Q(u_t)
    (0 for u <= 0 is not special-cased: Q(u) > 1/2 gives L < log 2); the score is
    L / (L + scale): 0.5 where Q = exp(-scale), never exactly 1.

    Repeat filter: after a row scores >= alert, the next `repeat` rows score at most
    min(score, alert) * 0.5 (kept ordered, below every threshold >= alert).

    spatial > 0: a value beyond the range seen so far by more than spatial * (max - min)
    (e = its distance beyond the range / (max - min)) scores at least
    alert + (1 - alert) e / (e + spatial), as Numenta's detector's "spatial anomaly"."""
    out = np.zeros(f.n)
    rs, az = Running(zwindow), Running(long)
    ring = [0.0] * short
    ring_sum, ring_n, pos = 0.0, 0, 0
    ema = None
    quiet = 0
    lo = hi = f.values[0]
    for i in range(1, f.n):
        r = f.residuals[i]
        v = f.values[i]
        excess = 0.0
        if hi > lo:
            excess = max(v - hi, lo - v, 0.0) / (hi - lo)
        lo, hi = min(lo, v), max(hi, v)
        if rs.count >= zwarmup:
            z = abs(rs.z(r))
            if quantity == "z":
                q = z
            elif quantity == "cap":
                q = min(z, cap)
            elif quantity == "erf":
                q = math.erf(z / SQRT2)
            elif quantity == "log":
                q = math.log1p(z)
            if average == "ring":
                ring_sum += q - ring[pos]
                ring[pos] = q
                pos = (pos + 1) % short
                ring_n = min(ring_n + 1, short)
                a = ring_sum / ring_n
            else:
                ema = q if ema is None else ema + 2.0 / (short + 1.0) * (q - ema)
                a = ema
            if az.count >= lwarmup:
                u = az.z(a)
                L = -log_tail(u) if math.isfinite(u) else (math.inf if u > 0 else 0.0)
                s = 1.0 if L == math.inf else L / (L + scale)
            else:
                s = 0.0
            az.add(a)
            if spatial > 0.0 and excess > spatial:
                s = max(s, alert + (1.0 - alert) * excess / (excess + spatial))
            if quiet > 0:
                quiet -= 1
                s = min(s, alert) * 0.5
            elif s >= alert:
                quiet = repeat
            out[i] = s
        rs.add(r)
    return out


def top_ties(files, scores):
    """How many of the top 1 % of scorable scores equal another score of that set."""
    s = np.concatenate([sc[f.probation:] for f, sc in zip(files, scores)])
    top = np.sort(s)[-max(1, len(s) // 100):]
    _, counts = np.unique(top, return_counts=True)
    return int(counts[counts > 1].sum())


# ---------------------------------------------------------------- main


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) < 2:
        sys.exit(__doc__)
    nab, export, categories = os.path.abspath(args[0]), args[1], args[2:] or list(DEV)
    if set(categories) & set(HELD_OUT) and "--held-out" not in sys.argv:
        sys.exit("held-out categories need --held-out")
    files = load(nab, export, categories)
    null = []
    for f in files:
        c, name = f.name.split("/")
        with open(os.path.join(nab, "results", "null", c, "null_" + name), newline="") as h:
            null.append(np.array([float(r["anomaly_score"]) for r in csv.DictReader(h)]))
    scorer = Scorer(files, null)

    land = [landed(f) for f in files]
    worst = max(float(np.max(np.abs(a - f.landed))) for a, f in zip(land, files))
    print("landed replica vs database: max |difference| %.2e" % worst)
    # Since issue 11 the database's score is the recipe (lstm_anomaly_score's defaults).
    recipe = [likelihood(f, **RECIPE) for f in files]
    worst = max(float(np.max(np.abs(a - f.landed))) for a, f in zip(recipe, files))
    print("recipe replica vs database: max |difference| %.2e" % worst)
    if "--check" in sys.argv:
        ours = scorer.normalized(land)
        for profile, raw, threshold in check_against_nab(nab, files, land):
            mine = scorer.raw(land, profile)
            print("check %-20s NAB raw %.6f at %.6f, ours %.6f at %.6f" % (
                profile, raw, threshold, mine[0], mine[1]))
        del ours

    published = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--published=")]
    for detector in published[0].split(",") if published else []:
        scores = []
        for f in files:
            c, name = f.name.split("/")
            with open(os.path.join(nab, "results", detector, c, detector + "_" + name)) as h:
                scores.append(np.array([float(r["anomaly_score"]) for r in csv.DictReader(h)]))
        res = scorer.normalized(scores)
        print("published %-62s %8.2f %8.2f %8.2f %9.4f %6d" % (
            detector, res["standard"][0], res["reward_low_FP_rate"][0],
            res["reward_low_FN_rate"][0], res["standard"][1], top_ties(files, scores)))

    candidates = [("landed erf", landed, {})]
    grid = json.loads(os.environ.get("STUDY_GRID", "[]"))
    if not grid:
        grid = [  # the steps of the study, ending with the recommended recipe
            {"repeat": 0},
            {"repeat": 30},
            {"repeat": 30, "average": "ema"},
            {"repeat": 30, "quantity": "erf"},
            {"repeat": 30, "quantity": "cap", "cap": 5},
            {"repeat": 0, "quantity": "cap", "cap": 5, "spatial": 0.05},
            {"repeat": 30, "quantity": "cap", "cap": 5, "spatial": 0.05, "zwindow": 300},
            RECIPE,
        ]
    for params in grid:
        candidates.append(("likelihood " + json.dumps(params, separators=(",", ":")),
                           likelihood, params))

    print("%-72s %8s %8s %8s %9s %6s %5s" % ("candidate", "standard", "low FP", "low FN",
                                             "threshold", "ties", "s"))
    for name, fn, params in candidates:
        t0 = time.time()
        scores = [fn(f, **params) for f in files]
        seconds = time.time() - t0
        res = scorer.normalized(scores)
        print("%-72s %8.2f %8.2f %8.2f %9.4f %6d %5.1f" % (
            name, res["standard"][0], res["reward_low_FP_rate"][0], res["reward_low_FN_rate"][0],
            res["standard"][1], top_ties(files, scores), seconds), flush=True)


if __name__ == "__main__":
    main()
