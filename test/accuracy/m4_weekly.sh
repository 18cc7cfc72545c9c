#!/usr/bin/env bash
# m4_weekly.sh [--variants] [DATA_DIR] - accuracy of lstm_train on M4 weekly (not part of the
# test command; takes minutes). Loads DATA_DIR/m4_weekly_train.csv (default ../shared/data,
# relative to the repository) into a long table (id, t, value) and trains ONE model with the
# documented call
#
#   lstm_train('m4_weekly', 'm4w', value => 'value', time_column => 't', series => 'id',
#              season => 52, horizon => 13)            -- every other option at its default
#
# forecasts 13 steps per series with lstm_forecast(model, value, 13 ORDER BY t) and scores
# them against m4_weekly_test.csv as the M4 competition did (test/accuracy/m4_score.py),
# next to Naive2 (sMAPE 9.161, MASE 2.777), with the training seconds.
#
# --variants: on the same loaded table, trains and scores every variant below one after the
# other (the documented call first) and prints one row each: sMAPE, MASE, OWA, the training
# seconds of lstm_train's report and the epochs each member ran. M4_VARIANTS="d a" runs only
# the variants named.
#   d  the documented call: series scaling, season 52, horizon 13, 5 members (the defaults)
#   a  global scaling (lstm_train without season or horizon, every option at its default),
#      forecast by feeding back: lstm_forecast(model, value, 13 ORDER BY t)
#   b  series scaling without seasonal inputs (season 1), horizon 13, 1 member
#   c  series scaling, season 52, horizon 13, 1 member
#   e  series scaling, season 52, horizon 13, 3 members
#   f  series scaling, season 52, horizon 13, 1 member, hidden 64
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${PGHOST:-}${PGPORT:-}" ] || exec scripts/with-server.sh "$0" "$@"
mode=documented
if [ "${1:-}" = --variants ]; then
    mode=variants
    shift
fi
data=${1:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
/usr/bin/python3 test/accuracy/m4_score.py long "$data/m4_weekly_train.csv" >"$work/train.csv"
chmod 644 "$work/train.csv"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS lstm;
DROP TABLE IF EXISTS m4w;
CREATE TABLE m4w (id text, t int, value float8);
\copy m4w FROM '$work/train.csv' CSV
ANALYZE m4w;
SQL

# variant LETTER: the lstm_train options of a variant (after the source and its columns)
variant() {
    case $1 in
    d) echo "season => 52, horizon => 13" ;;
    a) echo "" ;;
    b) echo "season => 1, horizon => 13, members => 1" ;;
    c) echo "season => 52, horizon => 13, members => 1" ;;
    e) echo "season => 52, horizon => 13, members => 3" ;;
    f) echo "season => 52, horizon => 13, members => 1, hidden => 64" ;;
    *) echo "unknown variant $1" >&2 && exit 2 ;;
    esac
}

# the report's summary: members, epochs (per member), best epochs, best validation score, seconds
summary="SELECT coalesce(r->'members', '1') AS members,
       coalesce((SELECT string_agg(m->>'epochs_run', ',')
                 FROM jsonb_array_elements(r->'member_runs') m), r->>'epochs_run') AS epochs,
       coalesce((SELECT string_agg(m->>'best_epoch', ',')
                 FROM jsonb_array_elements(r->'member_runs') m), r->>'best_epoch') AS best_epochs,
       coalesce((SELECT string_agg(round((m->>'best_loss')::numeric, 4)::text, ',')
                 FROM jsonb_array_elements(r->'member_runs') m),
                round((r->>'best_loss')::numeric, 4)::text) AS best_validation,
       round((r->>'elapsed_seconds')::numeric, 1) AS train_seconds
FROM (SELECT :'report'::jsonb AS r) s;"

# run LETTER: train the variant as model m4_weekly (d) or m4_weekly_LETTER, write its
# forecasts to $work/LETTER.csv and its report's summary to $work/LETTER.txt
run() {
    local name=m4_weekly opts
    [ "$1" = d ] || name=m4_weekly_$1
    opts=$(variant "$1")
    psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
SELECT lstm_train('$name', 'm4w', value => 'value', time_column => 't', series => 'id'
                  ${opts:+, $opts}) AS report \gset
\o $work/$1.txt
$summary
\o $work/$1.row
\pset format unaligned
\pset tuples_only on
$summary
\o
\copy (SELECT id, k, f FROM (SELECT id, lstm_forecast('$name', value, 13 ORDER BY t) AS fc FROM m4w GROUP BY id) s, unnest(fc) WITH ORDINALITY AS u(f, k)) TO '$work/$1.csv' CSV
SQL
}

if [ $mode = documented ]; then
    run d
    cat "$work/d.txt"
    /usr/bin/python3 test/accuracy/m4_score.py score "$data/m4_weekly_train.csv" \
        "$data/m4_weekly_test.csv" "$work/d.csv"
else
    rows=()
    for v in ${M4_VARIANTS:-d a b c e f}; do
        run "$v"
        IFS='|' read -r members epochs best valid seconds <"$work/$v.row"
        rows+=("$v" "$(variant "$v")" "$seconds" "$epochs" "$work/$v.csv")
        echo "variant $v ($(variant "$v")): $seconds s, epochs $epochs" >&2
    done
    /usr/bin/python3 test/accuracy/m4_score.py table "$data/m4_weekly_train.csv" \
        "$data/m4_weekly_test.csv" "${rows[@]}"
fi
psql -X -q -c 'DROP TABLE m4w'
