#!/usr/bin/env bash
# dump_restore.sh - a database holding models, dumped with pg_dump and restored into a
# new database (custom format with pg_restore, and plain SQL with psql), holds
# identical models: same names, same text form, same fingerprints, same forecasts.
# Needs a running server (PGHOST/PGPORT/PGUSER set) and the extension installed.
set -euo pipefail
src=lstm_dump_src
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists lstm_dump_src; dropdb --if-exists lstm_dump_custom; dropdb --if-exists lstm_dump_plain' EXIT

dropdb --if-exists $src >/dev/null
createdb $src
psql -X -q -v ON_ERROR_STOP=1 -d $src <<'SQL'
CREATE EXTENSION lstm;
-- random_matrix(rows, cols): a JSON matrix of uniform(-0.5, 0.5) weights.
CREATE FUNCTION pg_temp.random_matrix(r int, c int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg((SELECT jsonb_agg(random() - 0.5) FROM generate_series(1, c) WHERE i > 0))
    FROM generate_series(1, r) i $$;
CREATE FUNCTION pg_temp.random_vector(n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(random() - 0.5) FROM generate_series(1, n) $$;
-- random_model(I, H, L): an nn.LSTM + head with random weights and scaling.
CREATE FUNCTION pg_temp.random_model(i int, h int, l int) RETURNS lstm_model LANGUAGE sql AS $$
    SELECT jsonb_build_object('input_size', i, 'hidden_size', h, 'num_layers', l, 'output_size', 1,
        'weights', (SELECT jsonb_object_agg(k, v) FROM (
            SELECT 'weight_ih_l' || n AS k, pg_temp.random_matrix(4 * h, CASE WHEN n = 0 THEN i ELSE h END) AS v
            FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'weight_hh_l' || n, pg_temp.random_matrix(4 * h, h) FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'bias_ih_l' || n, pg_temp.random_vector(4 * h) FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'bias_hh_l' || n, pg_temp.random_vector(4 * h) FROM generate_series(0, l - 1) n
            UNION ALL SELECT 'head.weight', pg_temp.random_matrix(1, h)
            UNION ALL SELECT 'head.bias', pg_temp.random_vector(1)) w),
        'input_mean', pg_temp.random_vector(i), 'input_std', (SELECT jsonb_agg(1 + random()) FROM generate_series(1, i)),
        'output_mean', pg_temp.random_vector(1), 'output_std', '[3.5]'::jsonb)::lstm_model $$;
INSERT INTO lstm_models (name, model, info) VALUES
    ('small', pg_temp.random_model(1, 4, 1), '{"note": "small"}'),
    ('two layers', pg_temp.random_model(3, 16, 2), '{}'),
    ('Mixed "Case"', pg_temp.random_model(1, 64, 1), '{}'),
    ('large', pg_temp.random_model(2, 128, 3), '{}');
CREATE TABLE series AS SELECT s, t, sin(t / 5.0 + s) AS v FROM generate_series(1, 3) s, generate_series(1, 50) t;
SQL

snapshot() {
    psql -X -q -At -d "$1" -c "
        SELECT name, md5(model::text), lstm_model_info(model) ->> 'fingerprint', info - 'fingerprint',
               (SELECT lstm_forecast(m.model, s.v ORDER BY s.t) FROM series s WHERE m.name = 'small')
        FROM lstm_models m ORDER BY name"
}
snapshot $src >"$work/before"

pg_dump -Fc -f "$work/dump.custom" $src
createdb lstm_dump_custom
pg_restore --exit-on-error -d lstm_dump_custom "$work/dump.custom"
snapshot lstm_dump_custom >"$work/after_custom"

pg_dump -f "$work/dump.sql" $src
createdb lstm_dump_plain
psql -X -q -v ON_ERROR_STOP=1 -d lstm_dump_plain -f "$work/dump.sql" >/dev/null
snapshot lstm_dump_plain >"$work/after_plain"

status=0
for form in custom plain; do
    if [ "$(wc -l <"$work/before")" -ne 4 ]; then
        echo "dump_restore: expected 4 models before the dump"; status=1
    elif cmp -s "$work/before" "$work/after_$form"; then
        echo "dump_restore ($form format): 4 models identical after restore"
    else
        echo "dump_restore ($form format): models differ after restore"
        diff "$work/before" "$work/after_$form" | cut -c1-200
        status=1
    fi
done
exit $status
