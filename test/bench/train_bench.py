#!/usr/bin/python3
"""PyTorch reference for the training benchmark (test/bench/train_bench.sh).

    /usr/bin/python3 test/bench/train_bench.py SERIES ROWS HIDDEN BPTT BATCH

One epoch of exactly what lstm_train does with validation => 0, one thread: the same
series (the formula of train_bench.sh), z-score scaling, B series side by side in chunks
of BPTT steps with the state carried across chunks and detached, mean squared error of
the next-step forecast, clip_grad_norm_(1.0), torch.optim.Adam(lr=0.01), one step per
chunk. Prints one JSON line: the epoch's seconds (data preparation not included), the
number of Adam steps and the mean loss.
"""
import json
import sys
import time

import torch


def series(S, N):
    """The benchmark's data: S series of N rows, as train_bench.sh builds them in SQL."""
    s = torch.arange(1, S + 1, dtype=torch.float64).reshape(S, 1)
    t = torch.arange(1, N + 1, dtype=torch.float64).reshape(1, N)
    return 50 + 10 * torch.sin(0.07 * t + 0.5 * s) + 3 * torch.sin(0.31 * t + s) + 0.05 * t


def main():
    S, N, H, T, B = (int(a) for a in sys.argv[1:6])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    raw = series(S, N)
    data = ((raw - raw.mean()) / raw.std(unbiased=False)).float()  # (S, N)
    lstm = torch.nn.LSTM(1, H, 1)
    head = torch.nn.Linear(H, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.01)

    start = time.perf_counter()
    steps, total = 0, 0.0
    for g in range(0, S, B):
        lanes = data[g:g + B]  # (B, N)
        h = torch.zeros(1, lanes.shape[0], H)
        c = torch.zeros(1, lanes.shape[0], H)
        for c0 in range(0, N - 1, T):
            c1 = min(c0 + T, N - 1)
            x = lanes[:, c0:c1].t().unsqueeze(-1)  # (T, B, 1)
            target = lanes[:, c0 + 1:c1 + 1].t().unsqueeze(-1)  # (T, B, 1)
            opt.zero_grad()
            out, (h_new, c_new) = lstm(x, (h, c))
            loss = torch.nn.functional.mse_loss(head(out), target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            h, c = h_new.detach(), c_new.detach()
            steps += 1
            total += loss.item()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "steps": steps, "mean_loss": total / steps,
                      "hidden": H, "series": S, "rows": N, "bptt": T, "batch": B}))


if __name__ == "__main__":
    main()
