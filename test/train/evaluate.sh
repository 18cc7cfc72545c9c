#!/usr/bin/env bash
# evaluate.sh - forecast quality of lstm_train on the bundled real series.
#
#   test/train/evaluate.sh
#
# For data/co2_weekly.csv and data/sunspots_yearly.csv: load with COPY into a table with a
# real timestamp column, train with lstm_train on the first 80 % of the rows in time, make
# one-step-ahead forecasts over the last 20 % with the window form of lstm_forecast (the
# model runs from the first row; the forecast for a row is the one made after the row
# before), and print the RMSE next to the naive forecasts: the last value, and the value
# one season earlier (52 weeks for CO2, 11 years for sunspots).
#
# Uses the server in the PG* environment variables when PGHOST or PGPORT is set (tables go
# to a schema lstm_eval, models to lstm_models as eval_co2_weekly and eval_sunspots_yearly);
# otherwise runs against a throwaway server (scripts/with-server.sh).
# Needs the extension installed (make install).
set -euo pipefail
cd "$(dirname "$0")/../.."

[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
psql -X -q -v ON_ERROR_STOP=1 -f test/train/evaluate.sql
