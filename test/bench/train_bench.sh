#!/usr/bin/env bash
# train_bench.sh - one training epoch of lstm_train against PyTorch, one thread each.
#
#   test/bench/train_bench.sh          (run by test/bench/run.sh; needs `make install` done)
#
# The same data (TRAIN_BENCH_SERIES series x TRAIN_BENCH_ROWS rows, default 256 x 1025, built
# by the same formula in SQL and in train_bench.py), the same hyperparameters (hidden in
# TRAIN_BENCH_HIDDEN, default "32 64"; 1 layer, bptt 32, batch_size 32, learning_rate 0.01,
# clip 1, no validation split) and one thread on both sides: OpenBLAS runs single-threaded in
# the backend, PyTorch with torch.set_num_threads(1). Each side runs TRAIN_BENCH_REPEAT
# times (default 3), interleaved; the best time counts. The ratio compares the epoch itself
# (lstm_train's report, epoch_seconds) with PyTorch's epoch (data already in tensors); the
# whole lstm_train call, which also reads and sorts the table and scales the data, is
# printed next to it. Prints numbers; never fails on a time.
#
# Uses the server in the PG* environment variables when PGHOST or PGPORT is set (schema
# lstm_train_bench, models lstm_train_bench_h*, removed at the end), otherwise a throwaway
# one (scripts/with-server.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=/usr/bin/python3
series=${TRAIN_BENCH_SERIES:-256}
rows=${TRAIN_BENCH_ROWS:-1025}
hiddens=${TRAIN_BENCH_HIDDEN:-32 64}
repeat=${TRAIN_BENCH_REPEAT:-3}
bptt=32
batch=32

cd "$root"
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$here/train_bench.sh" "$@"
export PGOPTIONS="-c client_min_messages=warning"

sql() {
    psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

sql <<SQL
CREATE EXTENSION IF NOT EXISTS lstm;
DROP SCHEMA IF EXISTS lstm_train_bench CASCADE;
CREATE SCHEMA lstm_train_bench;
CREATE TABLE lstm_train_bench.readings AS
    SELECT s, t, 50 + 10 * sin(0.07 * t + 0.5 * s) + 3 * sin(0.31 * t + s) + 0.05 * t AS v
    FROM generate_series(1, $series) s, generate_series(1, $rows) t;
ANALYZE lstm_train_bench.readings;
SQL

echo "== training benchmark: one epoch, $series series x $rows rows, bptt $bptt, batch_size $batch, 1 thread, best of $repeat"
for hidden in $hiddens; do
    best_epoch= best_call= best_torch=
    for ((r = 1; r <= repeat; r++)); do
        report=$(sql -c "SELECT lstm_train('lstm_train_bench_h$hidden', 'lstm_train_bench.readings',
                         value => 'v', time_column => 't', series => 's', hidden => $hidden,
                         bptt => $bptt, batch_size => $batch, epochs => 1, validation => 0,
                         learning_rate => 0.01, clip => 1)")
        torch=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" "$here/train_bench.py" \
            "$series" "$rows" "$hidden" "$bptt" "$batch")
        read -r epoch call torch_s <<<"$("$python" -c '
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(r["epoch_seconds"][0], r["elapsed_seconds"], t["seconds"])' "$report" "$torch")"
        best_epoch=$("$python" -c "print(min(float(x) for x in '$best_epoch $epoch'.split()))")
        best_call=$("$python" -c "print(min(float(x) for x in '$best_call $call'.split()))")
        best_torch=$("$python" -c "print(min(float(x) for x in '$best_torch $torch_s'.split()))")
    done
    "$python" - "$hidden" "$best_epoch" "$best_call" "$best_torch" "$series" "$rows" <<'PY'
import sys
hidden, epoch, call, torch = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
targets = int(sys.argv[5]) * (int(sys.argv[6]) - 1)
print("train hidden %d: lstm_train epoch %.3f s (%.0f targets/s; whole call %.3f s), "
      "PyTorch epoch %.3f s (%.0f targets/s): ratio %.1fx PyTorch's throughput "
      "(%.1fx counting the whole call)"
      % (hidden, epoch, targets / epoch, call, torch, targets / torch, torch / epoch, torch / call))
PY
done
sql -c "DELETE FROM lstm_models WHERE name LIKE 'lstm\_train\_bench\_h%'; DROP SCHEMA lstm_train_bench CASCADE;"
