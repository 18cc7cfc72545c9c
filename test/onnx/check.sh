#!/usr/bin/env bash
# check.sh - the ONNX bridge (tools/onnx_to_lstm.py) against PyTorch: exports nn.LSTM +
# nn.Linear models with torch.onnx.export, converts them, loads them into a server and
# compares lstm_forecast with PyTorch (1e-5) and every weight (exactly); unsupported graphs
# must be refused. Needs Debian's python3-torch and python3-onnx (scripts/install-deps.sh
# --torch); not part of scripts/test.sh. Uses your server with PGHOST/PGPORT set, otherwise a
# throwaway one (scripts/with-server.sh); the extension must be installed (make install).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec scripts/with-server.sh /usr/bin/python3 test/onnx/check.py
