#!/usr/bin/env bash
# run.sh - `make bench`: lstm_forecast against sum() and PyTorch on the same weights and data.
#
#   bash test/bench/run.sh            (as root, or a user who can run scripts/with-server.sh)
#
# Builds and installs the extension, runs against the server in the PG* environment variables
# when PGHOST or PGPORT is set, otherwise a throwaway one (scripts/with-server.sh), loads BENCH_SERIES x BENCH_ROWS readings (default 1,000 x
# 1,000) and one model per hidden size in BENCH_HIDDEN (default "16 32 64 128"), and prints
# one table: the time of the lstm_forecast query, of the same query with sum(), of PyTorch
# per series and batched, their ratios and rows/s, and the largest difference between the
# forecasts of lstm_forecast and PyTorch. It prints numbers; it never fails on a time.
# BENCH_REPEAT (default 3) sets how many timed runs follow the warm-up.
# The training and trigger benchmarks (train_bench.sh, trigger_bench.sh) run afterwards, on
# the same server, when they exist and are executable.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=/usr/bin/python3
export BENCH_SERIES=${BENCH_SERIES:-1000} BENCH_ROWS=${BENCH_ROWS:-1000}
export BENCH_HIDDEN=${BENCH_HIDDEN:-16 32 64 128} BENCH_REPEAT=${BENCH_REPEAT:-3}

cd "$root"
if ! "$python" -c 'import torch, numpy' 2>/dev/null; then
    scripts/install-deps.sh --torch
fi

# Build and install the extension (the throwaway server uses the system installation).
make -s
if [ -w "$(pg_config --pkglibdir)" ]; then
    make -s install >/dev/null
elif [ ! -e "$(pg_config --pkglibdir)/lstm.so" ]; then
    echo "run.sh: cannot install the extension into $(pg_config --pkglibdir); run as root" >&2
    exit 1
else
    echo "run.sh: not allowed to install; benchmarking the lstm already installed" >&2
fi
# The rest runs against a server: the caller's, or a throwaway one.
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$here/run.sh" "$@"

work=$(mktemp -d)
chmod 755 "$work" # the server reads the data files with COPY
trap 'rm -rf "$work"' EXIT

echo "== preparing $BENCH_SERIES series x $BENCH_ROWS rows and models (hidden $BENCH_HIDDEN)"
"$python" "$here/forecast_bench.py" prepare "$work"
chmod a+r "$work"/*

psql -X -q -v dir="$work" -f "$here/forecast_bench.sql"

psql_value() {
    psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}

: >"$work/results.jsonl"
for hidden in $BENCH_HIDDEN; do
    model="bench_h$hidden"
    lstm_query="SELECT s, lstm_forecast(m.model, v ORDER BY t) FROM bench_series, lstm_models m WHERE m.name = '$model' GROUP BY s"
    sum_query="SELECT s, sum(v ORDER BY t) FROM bench_series, lstm_models m WHERE m.name = '$model' GROUP BY s"
    if [ "$hidden" = "$(echo $BENCH_HIDDEN | cut -d' ' -f1)" ]; then
        echo "== plan of the lstm_forecast query"
        psql -X -At -c "EXPLAIN (COSTS OFF) $lstm_query"
    fi
    echo "== hidden $hidden: lstm_forecast and sum, taking turns"
    times=$(psql_value "SELECT array_to_string(bench_best(ARRAY[\$q\$$lstm_query\$q\$, \$q\$$sum_query\$q\$], $BENCH_REPEAT), ' ')")
    read -r lstm_s sum_s <<<"$times"
    psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 -c "COPY ($lstm_query) TO STDOUT" \
        >"$work/sql_h$hidden.tsv"
    echo "== hidden $hidden: PyTorch (1 thread) per series and batched"
    # The machine's OpenBLAS tuning variables are for the extension's builds; PyTorch runs
    # with its own defaults.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" "$here/forecast_bench.py" torch \
        "$work" "$hidden" >/dev/null
    diff_json=$("$python" "$here/forecast_bench.py" compare "$work" "$hidden" \
        "$work/sql_h$hidden.tsv")
    "$python" - "$work" "$hidden" "$lstm_s" "$sum_s" "$diff_json" <<'EOF'
import json, os, sys
work, hidden, lstm_s, sum_s, diff = sys.argv[1:6]
torch = json.load(open(os.path.join(work, "torch_h%s.json" % hidden)))
row = {"hidden": int(hidden), "rows": torch["rows"], "lstm_s": float(lstm_s),
       "sum_s": float(sum_s), "torch_per_series_s": torch["torch_per_series_s"],
       "torch_batched_s": torch["torch_batched_s"]}
row.update(json.loads(diff))
with open(os.path.join(work, "results.jsonl"), "a") as out:
    out.write(json.dumps(row) + "\n")
print("   lstm %.3f s, sum %.3f s, PyTorch per series %.3f s, batched %.3f s, "
      "max rel diff %.1e" % (row["lstm_s"], row["sum_s"], row["torch_per_series_s"],
                             row["torch_batched_s"], row["max_rel_diff"]))
EOF
done

echo
echo "== inference benchmark: $BENCH_SERIES series x $BENCH_ROWS rows, PostgreSQL $(psql_value 'SHOW server_version'), $(nproc) cores"
"$python" "$here/forecast_bench.py" table "$work"

# The other benchmarks, when present.
for other in train_bench.sh trigger_bench.sh; do
    if [ -x "$here/$other" ]; then
        echo
        echo "== $other"
        "$here/$other"
    fi
done
