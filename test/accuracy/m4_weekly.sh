#!/usr/bin/env bash
# m4_weekly.sh [DATA_DIR] - accuracy of series-scaled training on M4 weekly (not part of the
# test command; takes minutes). Loads DATA_DIR/m4_weekly_train.csv (default ../shared/data,
# relative to the repository) into a long table (id, t, value), trains ONE model with the
# documented call
#
#   lstm_train('m4_weekly', 'm4w', value => 'value', time_column => 't', series => 'id',
#              season => 52, horizon => 13)            -- every other option at its default
#
# forecasts 13 steps per series with lstm_forecast(model, value, 13 ORDER BY t) and scores
# them against m4_weekly_test.csv as the M4 competition did (test/accuracy/m4_score.py),
# next to Naive2 (sMAPE 9.161, MASE 2.777), with the training seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
data=${1:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
/usr/bin/python3 test/accuracy/m4_score.py long "$data/m4_weekly_train.csv" >"$work/train.csv"
chmod 644 "$work/train.csv"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS lstm;
DROP TABLE IF EXISTS m4w;
CREATE TABLE m4w (id text, t int, value float8);
\copy m4w FROM '$work/train.csv' CSV
SET client_min_messages = warning;
\o $work/report.txt
SELECT r->'members' AS members, r->'epochs_run' AS epochs_member_1,
       (SELECT string_agg(m->>'best_epoch', ',') FROM jsonb_array_elements(r->'member_runs') m)
           AS best_epochs,
       (SELECT string_agg(round((m->>'best_loss')::numeric, 4)::text, ',')
        FROM jsonb_array_elements(r->'member_runs') m) AS validation_owa,
       round((r->>'elapsed_seconds')::numeric, 1) AS train_seconds
FROM lstm_train('m4_weekly', 'm4w', value => 'value', time_column => 't', series => 'id',
                season => 52, horizon => 13) r;
\o
\copy (SELECT id, k, f FROM (SELECT id, lstm_forecast('m4_weekly', value, 13 ORDER BY t) AS fc FROM m4w GROUP BY id) s, unnest(fc) WITH ORDINALITY AS u(f, k)) TO '$work/forecast.csv' CSV
DROP TABLE m4w;
SQL
cat "$work/report.txt"
/usr/bin/python3 test/accuracy/m4_score.py score "$data/m4_weekly_train.csv" \
    "$data/m4_weekly_test.csv" "$work/forecast.csv"
