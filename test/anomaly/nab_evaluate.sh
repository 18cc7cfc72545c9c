#!/usr/bin/env bash
# nab_evaluate.sh - the Numenta Anomaly Benchmark's detector protocol, run on lstm_anomaly_score.
#
#   test/anomaly/nab_evaluate.sh NAB_DIR [CATEGORY...]
#
# NAB_DIR is a checkout of github.com/numenta/NAB (its data/, labels/, config/, results/null/
# and run.py are used; nothing of it is changed except NAB_DIR/results/$NAB_DETECTOR/).
# CATEGORY defaults to the four development categories artificialNoAnomaly,
# artificialWithAnomaly, realKnownCause and realAWSCloudwatch; the held-out ones
# (realAdExchange, realTraffic, realTweets) run only when named ("all" names all seven).
#
# For every data file of the categories: load it into a table (timestamp, value), train a
# model with lstm_train on the file's probationary rows only (the first min(15 %, 750) rows,
# NAB's rule), score every row with lstm_anomaly_score(model, value) OVER (ORDER BY rn), rn
# the row's number in the file (NAB streams a file in file order, and
# realKnownCause/machine_temperature_system_failure.csv repeats an hour of timestamps at a
# clock change; elsewhere file order is timestamp order), write NAB's results file NAB_DIR/results/$NAB_DETECTOR/<category>/
# $NAB_DETECTOR_<file>.csv, then run NAB's run.py --optimize --score --normalize for that
# detector on exactly these categories (labels, the null baseline and the perfect score
# restricted to them). Prints the wall time of training + scoring and the three profile
# scores. See test/anomaly/README.md.
#
# Environment: NAB_DETECTOR (default lstm; letters and digits only, NAB splits names at "_"),
# NAB_HIDDEN (16), NAB_EPOCHS (100), NAB_PATIENCE (10), NAB_LEARNING_RATE (0.01), NAB_BPTT (32),
# NAB_SEED (0): the options of lstm_train; NAB_SETTINGS (a JSON object, default {}: the
# defaults): the settings of lstm_anomaly_score. NAB_EXPORT=FILE also keeps the per-row export
# (file, rn, value, forecast, score) as CSV, the input of score_study.py.
# Uses the server in the PG* environment when PGHOST or PGPORT is set (schema lstm_nab, models
# named nab:<category>/<file>), otherwise a throwaway one (scripts/with-server.sh). Needs the
# extension installed and Debian's python3-pandas and python3-simplejson.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 NAB_DIR [CATEGORY...|all]" >&2
    exit 2
fi
cd "$(dirname "$0")/../.."
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"

nab=$(cd "$1" && pwd)
shift
if [ $# -eq 0 ]; then
    set -- artificialNoAnomaly artificialWithAnomaly realKnownCause realAWSCloudwatch
elif [ "$1" = all ]; then
    set -- artificialNoAnomaly artificialWithAnomaly realKnownCause realAWSCloudwatch \
        realAdExchange realTraffic realTweets
fi
detector=${NAB_DETECTOR:-lstm}
if ! [[ $detector =~ ^[A-Za-z0-9]+$ ]]; then
    echo "NAB_DETECTOR must be letters and digits" >&2
    exit 2
fi
for category in "$@"; do
    if [ ! -d "$nab/data/$category" ]; then
        echo "no category $category in $nab/data" >&2
        exit 2
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql_run() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_run -v part=setup -f test/anomaly/nab_evaluate.sql
for category in "$@"; do
    for path in "$nab/data/$category"/*.csv; do
        file=$category/$(basename "$path")
        printf "TRUNCATE lstm_nab.stage;\n"
        printf "\\\\copy lstm_nab.stage (ts, value) FROM '%s' WITH (FORMAT csv, HEADER true)\n" \
            "${path//\'/\'\'}"
        printf "SELECT lstm_nab.take('%s');\n" "${file//\'/\'\'}"
    done
done >"$work/load.sql"
psql_run -o /dev/null -f "$work/load.sql"

psql_run -v part=run -v hidden="${NAB_HIDDEN:-16}" -v epochs="${NAB_EPOCHS:-100}" \
    -v patience="${NAB_PATIENCE:-10}" -v learning_rate="${NAB_LEARNING_RATE:-0.01}" \
    -v bptt="${NAB_BPTT:-32}" -v seed="${NAB_SEED:-0}" -v settings="${NAB_SETTINGS:-{\}}" \
    -f test/anomaly/nab_evaluate.sql
psql_run -c "\\copy (SELECT file, rn, value, forecast, score FROM lstm_nab.scores \
ORDER BY file, rn) TO '$work/scores.csv' WITH (FORMAT csv, HEADER true)"
if [ -n "${NAB_EXPORT:-}" ]; then
    cp "$work/scores.csv" "$NAB_EXPORT"
fi

/usr/bin/python3 test/anomaly/nab_results.py "$nab" "$detector" "$work/scores.csv" "$@"
