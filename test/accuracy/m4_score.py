#!/usr/bin/python3
"""Helpers of m4_weekly.sh: wide M4 CSV -> long CSV (id,t,value), and the M4 scoring.

  m4_score.py long TRAIN_CSV                  long rows on stdout
  m4_score.py score TRAIN_CSV TEST_CSV FC_CSV print sMAPE, MASE, OWA of the forecasts (id,k,f)
                                              and of Naive2 (= naive for weekly data)
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


def main():
    if sys.argv[1] == 'long':
        w = csv.writer(sys.stdout)
        for i, v in load(sys.argv[2]).items():
            for t, x in enumerate(v, 1):
                w.writerow([i, t, repr(float(x))])
        return
    train, test = load(sys.argv[2]), load(sys.argv[3])
    fc = {i: np.zeros(len(test[i])) for i in test}
    with open(sys.argv[4]) as f:
        for i, k, v in csv.reader(f):
            fc[i][int(k) - 1] = float(v)
    naive = {i: np.full(len(test[i]), train[i][-1]) for i in test}
    ref = score(train, test, naive)
    got = score(train, test, fc)
    owa = 0.5 * (got[0] / ref[0] + got[1] / ref[1])
    print(f'{"method":24s} {"sMAPE":>8s} {"MASE":>8s} {"OWA":>7s}')
    print(f'{"Naive2 (naive)":24s} {ref[0]:8.3f} {ref[1]:8.3f} {1.0:7.3f}')
    print(f'{"lstm (series scaling)":24s} {got[0]:8.3f} {got[1]:8.3f} {owa:7.3f}')


if __name__ == '__main__':
    main()
