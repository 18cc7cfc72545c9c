#!/usr/bin/env python3
"""Train a small PyTorch LSTM on the first 80 % of the bundled weekly CO2 series and
write it in lstm_model's JSON form (test/demo/co2_pytorch_model.json).

It shows the import path: any nn.LSTM + nn.Linear trained in PyTorch loads into
PostgreSQL with a json.dumps of its state_dict. The model works on weekly
differences ("difference": true), with z-score scaling fitted on the training part.
Weeks without a value are skipped, as lstm_forecast skips NULL values.

Run with Debian's python3-torch: /usr/bin/python3 test/demo/make_demo_model.py
"""
import csv
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data", "co2_weekly.csv")

torch.manual_seed(7)
torch.set_num_threads(1)

values = []
with open(DATA) as f:
    for row in csv.DictReader(f):
        if row["co2"].strip():
            values.append(float(row["co2"]))
n_train = int(len(values) * 0.8)
train = torch.tensor(values[:n_train], dtype=torch.float64)
diffs = train[1:] - train[:-1]
mean, std = diffs.mean().item(), diffs.std().item()
scaled = ((diffs - mean) / std).float()

H = 16
lstm = torch.nn.LSTM(1, H, 1, batch_first=True)
head = torch.nn.Linear(H, 1)
params = list(lstm.parameters()) + list(head.parameters())
opt = torch.optim.Adam(params, lr=0.01)
x = scaled[:-1].reshape(1, -1, 1)
y = scaled[1:].reshape(1, -1, 1)
for epoch in range(200):
    opt.zero_grad()
    out, _ = lstm(x)
    loss = torch.mean((head(out) - y) ** 2)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
print(f"final training loss (scaled units): {loss.item():.4f}")

weights = {k: v.tolist() for k, v in lstm.state_dict().items()}
weights.update({"head." + k: v.tolist() for k, v in head.state_dict().items()})
model = {"input_size": 1, "hidden_size": H, "num_layers": 1, "output_size": 1,
         "weights": weights, "difference": True,
         "input_mean": [mean], "input_std": [std], "output_mean": [mean], "output_std": [std]}
with open(os.path.join(HERE, "co2_pytorch_model.json"), "w") as f:
    json.dump(model, f)
