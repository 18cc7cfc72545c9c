-- evaluate_series.sql - one series of evaluate.sql. Variables: tbl, col, season, season_text,
-- options ('defaults' or the lstm_train options used, as SQL).

-- the first 80 % of the rows in time
SELECT ts AS cutoff FROM :tbl ORDER BY ts
    OFFSET (SELECT floor(0.8 * count(*)) FROM :tbl) LIMIT 1 \gset
\set train :tbl _train
CREATE VIEW :train AS SELECT * FROM :tbl WHERE ts < :'cutoff';

SELECT CASE WHEN :'options' = 'defaults' THEN '' ELSE ', ' || :'options' END AS extra \gset
SELECT lstm_train('eval_' || :'tbl', :'train', value => :'col',
                  time_column => 'ts' :extra) AS report \gset

WITH f AS (
    SELECT ts, :col AS actual,
           lstm_forecast('eval_' || :'tbl', :col) OVER w AS forecast,
           count(:col) OVER w AS filled,
           lag(:col, :season) OVER w AS seasonal
    FROM :tbl WINDOW w AS (ORDER BY ts)),
g AS (
    SELECT *, first_value(actual) OVER (PARTITION BY filled ORDER BY ts) AS last_value
    FROM f),
h AS (
    SELECT ts, actual, seasonal,
           lag(forecast) OVER (ORDER BY ts) AS lstm,
           lag(last_value) OVER (ORDER BY ts) AS last_value
    FROM g)
INSERT INTO results
SELECT :'tbl', :'season_text', :'options',
       (:'report'::jsonb ->> 'rows')::int, (:'report'::jsonb ->> 'epochs_run')::int,
       round((:'report'::jsonb ->> 'elapsed_seconds')::numeric, 2),
       count(*),
       round(sqrt(avg((lstm - actual) ^ 2))::numeric, 4),
       round(sqrt(avg((last_value - actual) ^ 2))::numeric, 4),
       round(sqrt(avg((seasonal - actual) ^ 2))::numeric, 4)
FROM h
WHERE ts >= :'cutoff' AND actual IS NOT NULL AND last_value IS NOT NULL AND seasonal IS NOT NULL;
