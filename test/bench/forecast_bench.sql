-- forecast_bench.sql - the database side of the inference benchmark (run by test/bench/run.sh).
--
--   psql -v dir=WORKDIR -f test/bench/forecast_bench.sql
--
-- Loads the series and the models made by forecast_bench.py prepare from WORKDIR and
-- defines bench_best(query, repeat), the timer the benchmark calls for each query.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS lstm;

-- One reading per series and hour, stored in series order with its natural key.
DROP TABLE IF EXISTS bench_series;
CREATE TABLE bench_series (s int NOT NULL, t int NOT NULL, v float8 NOT NULL);
\set series_csv :dir '/series.csv'
COPY bench_series FROM :'series_csv' WITH (FORMAT csv);
ALTER TABLE bench_series ADD PRIMARY KEY (s, t);
VACUUM ANALYZE bench_series;

-- The models: PyTorch default initialisation, one per hidden size (name bench_h<H>).
DELETE FROM lstm_models WHERE name LIKE 'bench\_h%';
\set models_tsv :dir '/models.tsv'
COPY lstm_models (name, model) FROM :'models_tsv';
ANALYZE lstm_models;

-- bench_best(queries, repeat): run every query once to warm up, then repeat rounds
-- of every query in turn; the shortest wall time of each, in seconds. Taking
-- turns spreads bursts of load from other processes over all the queries. A
-- query's rows are consumed by count() over its second column, so every
-- aggregate in it is computed, and it is planned as a plain query (not as a
-- cursor).
CREATE OR REPLACE FUNCTION bench_best(queries text[], repeat int) RETURNS float8[]
LANGUAGE plpgsql AS $$
DECLARE
    best float8[] := array_fill('Infinity'::float8, ARRAY[cardinality(queries)]);
    started timestamptz;
    n bigint;
BEGIN
    FOR k IN 0..repeat LOOP
        FOR q IN 1..cardinality(queries) LOOP
            started := clock_timestamp();
            EXECUTE format('SELECT count(q.f) FROM (%s) AS q(s, f)', queries[q]) INTO n;
            IF k > 0 THEN
                best[q] := least(best[q], extract(epoch FROM clock_timestamp() - started));
            END IF;
        END LOOP;
    END LOOP;
    RETURN best;
END
$$;

SELECT count(*) AS rows, count(DISTINCT s) AS series FROM bench_series;
SELECT name, (info->>'hidden_size')::int AS hidden, info->>'parameters' AS parameters
FROM lstm_models WHERE name LIKE 'bench\_h%' ORDER BY 2;
