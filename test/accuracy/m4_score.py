#!/usr/bin/python3
"""Helpers of m4_weekly.sh: wide M4 CSV -> long CSV (id,t,value), and the M4 scoring.

  m4_score.py long TRAIN_CSV                  long rows on stdout
  m4_score.py score TRAIN_CSV TEST_CSV FC_CSV print sMAPE, MASE, OWA of the forecasts (id,k,f)
                                              and of Naive2 (= naive for weekly data)
  m4_score.py table TRAIN_CSV TEST_CSV {VARIANT OPTIONS SECONDS EPOCHS FC_CSV}...
                                              one row per variant (m4_weekly.sh --variants),
                                              after Naive2's; variant d is the documented call
Scoring as the M4 competition: sMAPE = mean 200|y-f|/(|y|+|f|), MASE scaled by the in-sample
lag-1 naive MAE (frequency 1 for weekly), each averaged over series; OWA relative to Naive2."""
import csv
import sys

import numpy as np


def load(path):
    out = {}
    with open(path) as f:
        r = csv.reader(f)
        next(r)
        for row in r:
            out[row[0]] = np.array([float(v) for v in row[1:] if v != ''])
    return out


def score(train, test, fc):
    s = np.mean([np.mean(200 * np.abs(test[i] - fc[i]) / (np.abs(test[i]) + np.abs(fc[i])))
                 for i in test])
    q = np.mean([np.mean(np.abs(test[i] - fc[i])) / np.mean(np.abs(np.diff(train[i])))
                 for i in test])
    return s, q


def read_forecasts(path, test):
    """The forecasts of FC_CSV (id,k,f rows) as arrays shaped like the test values."""
    fc = {i: np.zeros(len(test[i])) for i in test}
    with open(path) as f:
        for i, k, v in csv.reader(f):
            fc[i][int(k) - 1] = float(v)
    return fc


def table(train, test, naive, variants):
    """Print a markdown table: Naive2, then per variant sMAPE, MASE, OWA, seconds, epochs."""
    ref = score(train, test, naive)
    print('| variant | lstm_train options | sMAPE | MASE | OWA | train s | epochs per member |')
    print('|---|---|---|---|---|---|---|')
    print(f'| Naive2 | | {ref[0]:.3f} | {ref[1]:.3f} | 1.000 | | |')
    for k in range(0, len(variants), 5):
        name, options, seconds, epochs, path = variants[k:k + 5]
        got = score(train, test, read_forecasts(path, test))
        owa = 0.5 * (got[0] / ref[0] + got[1] / ref[1])
        label = f'**{name}** (documented)' if name == 'd' else name
        options = options or '(global scaling: no season, no horizon; forecast fed back)'
        print(f'| {label} | {options} | {got[0]:.3f} | {got[1]:.3f} | {owa:.3f} | {seconds} '
              f'| {epochs} |')


def main():
    if sys.argv[1] == 'long':
        w = csv.writer(sys.stdout)
        for i, v in load(sys.argv[2]).items():
            for t, x in enumerate(v, 1):
                w.writerow([i, t, repr(float(x))])
        return
    train, test = load(sys.argv[2]), load(sys.argv[3])
    naive = {i: np.full(len(test[i]), train[i][-1]) for i in test}
    if sys.argv[1] == 'table':
        table(train, test, naive, sys.argv[4:])
        return
    fc = read_forecasts(sys.argv[4], test)
    ref = score(train, test, naive)
    got = score(train, test, fc)
    owa = 0.5 * (got[0] / ref[0] + got[1] / ref[1])
    print(f'{"method":24s} {"sMAPE":>8s} {"MASE":>8s} {"OWA":>7s}')
    print(f'{"Naive2 (naive)":24s} {ref[0]:8.3f} {ref[1]:8.3f} {1.0:7.3f}')
    print(f'{"lstm (series scaling)":24s} {got[0]:8.3f} {got[1]:8.3f} {owa:7.3f}')


if __name__ == '__main__':
    main()
