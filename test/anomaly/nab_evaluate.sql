-- nab_evaluate.sql - the database half of test/anomaly/nab_evaluate.sh.
--
-- Run by nab_evaluate.sh in three parts, selected with the psql variable "part":
--   setup  : a fresh schema lstm_nab with the tables and functions below;
--   (the shell script then loads every data file with \copy + lstm_nab.take)
--   run    : trains one model per data file on its probationary rows and scores every row in
--            file order (lstm_forecast and lstm_anomaly_score over a ROWS frame ordered by
--            the row number); prints the wall time of training plus scoring.
-- The options of lstm_train are the psql variables hidden, epochs, patience, learning_rate,
-- bptt and seed, and the anomaly score's settings (jsonb, '{}' for the defaults) the variable
-- settings (nab_evaluate.sh sets them).

\if :{?part}
\else
\echo 'set the psql variable part (setup or run)'
\quit
\endif

SELECT :'part' = 'setup' AS is_setup \gset
\if :is_setup

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS lstm;
DROP SCHEMA IF EXISTS lstm_nab CASCADE;
CREATE SCHEMA lstm_nab;

-- One NAB data file as \copy reads it; line keeps the file's row order.
CREATE TABLE lstm_nab.stage (line bigserial, ts timestamp NOT NULL, value float8 NOT NULL);

-- Every row of every data file: file is NAB's relative path (category/name.csv), rn the
-- 1-based row number in the file.
CREATE TABLE lstm_nab.rows (
    file text NOT NULL,
    rn int NOT NULL,
    ts timestamp NOT NULL,
    value float8 NOT NULL,
    PRIMARY KEY (file, rn)
);

-- The probationary rows of the file being trained (lstm_train reads a relation).
CREATE TABLE lstm_nab.train_rows (rn int PRIMARY KEY, value float8 NOT NULL);

-- Per row: the forecast made after it (lstm_forecast's window form) and the anomaly score
-- (lstm_anomaly_score with the settings; NULL in the warm-up).
CREATE TABLE lstm_nab.scores (
    file text NOT NULL,
    rn int NOT NULL,
    value float8 NOT NULL,
    forecast float8,
    score float8,
    PRIMARY KEY (file, rn)
);

-- Move the staged file into lstm_nab.rows under the name file.
CREATE FUNCTION lstm_nab.take(file text) RETURNS bigint
LANGUAGE sql AS $$
    WITH moved AS (
        INSERT INTO lstm_nab.rows (file, rn, ts, value)
        SELECT file, row_number() OVER (ORDER BY line), ts, value FROM lstm_nab.stage
        RETURNING 1)
    SELECT count(*) FROM moved;
$$;

-- NAB's probationary period of a file of n rows: min(floor(0.15 n), 0.15 * 5000).
CREATE FUNCTION lstm_nab.probation(n bigint) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT least(floor(0.15 * n), 750)::int $$;

\else

SET client_min_messages = warning;
SELECT set_config('lstm_nab.hidden', :'hidden', false),
       set_config('lstm_nab.epochs', :'epochs', false),
       set_config('lstm_nab.patience', :'patience', false),
       set_config('lstm_nab.learning_rate', :'learning_rate', false),
       set_config('lstm_nab.bptt', :'bptt', false),
       set_config('lstm_nab.seed', :'seed', false),
       set_config('lstm_nab.settings', :'settings', false) \gset
SELECT clock_timestamp() AS started \gset

DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT file, count(*) AS n FROM lstm_nab.rows GROUP BY file ORDER BY file LOOP
        TRUNCATE lstm_nab.train_rows;
        INSERT INTO lstm_nab.train_rows
        SELECT rn, value FROM lstm_nab.rows
        WHERE file = f.file AND rn <= lstm_nab.probation(f.n);
        PERFORM lstm_train('nab:' || f.file, 'lstm_nab.train_rows', value => 'value',
                           time_column => 'rn',
                           hidden => current_setting('lstm_nab.hidden')::int,
                           epochs => current_setting('lstm_nab.epochs')::int,
                           patience => current_setting('lstm_nab.patience')::int,
                           learning_rate => current_setting('lstm_nab.learning_rate')::float8,
                           bptt => current_setting('lstm_nab.bptt')::int,
                           seed => current_setting('lstm_nab.seed')::bigint);
        INSERT INTO lstm_nab.scores (file, rn, value, forecast, score)
        SELECT file, rn, value, lstm_forecast('nab:' || f.file, value) OVER w,
               lstm_anomaly_score('nab:' || f.file, value,
                                  current_setting('lstm_nab.settings')::jsonb) OVER w
        FROM lstm_nab.rows WHERE file = f.file
        WINDOW w AS (ORDER BY rn ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
    END LOOP;
END
$$;

SELECT round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz)::numeric, 2)
       AS seconds,
       (SELECT count(DISTINCT file) FROM lstm_nab.scores) AS files,
       (SELECT count(*) FROM lstm_nab.scores) AS rows_scored \gset
\echo 'training + scoring:' :seconds 's for' :files 'files,' :rows_scored 'rows'
\endif
