#!/usr/bin/env bash
# single_series.sh - multi-step accuracy of lstm_train on the bundled single series (not part
# of the test command; takes a few minutes).
#
#   test/accuracy/single_series.sh
#
# For data/co2_weekly.csv (season 52) and data/sunspots_yearly.csv (season 11): train on the
# first 80 % of the rows in time, once with the series-scaled call
#
#   lstm_train(name, train_view, value => COL, time_column => 'ts', season => S, horizon => 13)
#
# and once the landed (global scaling) way of test/train/evaluate.sh, for reference. Then
# forecast 13 steps from every origin over the last 20 % with the window form
# lstm_forecast(model, value, 13) OVER (ORDER BY ts) (the forecast made after each row; the
# global model feeds its forecasts back) and print, per method, the RMSE at horizon 1, at
# horizon 13 and the mean of the 13 RMSEs, next to the naive forecast (the last value) and
# the seasonal naive forecast (the value one season before the target), with the training
# seconds. Also checks, at a few origins, that the window form equals
# lstm_predict(model, lstm_state_agg(model, value ORDER BY ts), 13).
#
# Uses the server in the PG* environment variables when PGHOST or PGPORT is set (tables go
# to a schema lstm_accuracy, models to lstm_models as acc_*); otherwise a throwaway server
# (scripts/with-server.sh). Needs the extension installed (make install).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
psql -X -q -v ON_ERROR_STOP=1 -f test/accuracy/single_series.sql
