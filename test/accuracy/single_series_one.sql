-- single_series_one.sql - one series of single_series.sql. Variables: tbl, col, season,
-- landed_options ('defaults' or the landed lstm_train options, as SQL).

-- the first 80 % of the rows in time
SELECT ts AS cutoff FROM :tbl ORDER BY ts
    OFFSET (SELECT floor(0.8 * count(*)) FROM :tbl) LIMIT 1 \gset
\set train :tbl _train
CREATE VIEW :train AS SELECT * FROM :tbl WHERE ts < :'cutoff';
\set model acc_ :tbl
\set landed acc_ :tbl _landed
\set fc :tbl _fc
\set pairs :tbl _pairs

SELECT lstm_train(:'model', :'train', value => :'col', time_column => 'ts',
                  season => :season, horizon => 13) AS report \gset
SELECT CASE WHEN :'landed_options' = 'defaults' THEN '' ELSE ', ' || :'landed_options' END
    AS extra \gset
SELECT lstm_train(:'landed', :'train', value => :'col', time_column => 'ts' :extra)
    AS landed_report \gset

-- every row with its position among all rows (rn) and among the non-NULL rows (nn), and the
-- 13-step forecasts made after it
CREATE TABLE :fc AS
SELECT ts, :col AS y, row_number() OVER w AS rn, count(:col) OVER w AS nn,
       lstm_forecast(:'model', :col, 13) OVER w AS fc_series,
       lstm_forecast(:'landed', :col, 13) OVER w AS fc_landed
FROM :tbl WINDOW w AS (ORDER BY ts);

-- (origin, k) pairs: target in the last 20 %, origin from the last training row on
CREATE TABLE :pairs AS
SELECT k, tg.y, o.fc_series[k] AS lstm_series, o.fc_landed[k] AS lstm_landed,
       o.y AS naive, sn.y AS seasonal
FROM :fc o
CROSS JOIN generate_series(1, 13) k
JOIN :fc tg ON tg.y IS NOT NULL AND tg.nn = o.nn + k
LEFT JOIN :fc sn
    ON sn.rn = tg.rn - :season * ceil((tg.rn - o.rn)::numeric / :season)::int
WHERE o.y IS NOT NULL AND tg.ts >= :'cutoff'
  AND o.ts >= (SELECT max(ts) FROM :train WHERE :col IS NOT NULL);
DELETE FROM :pairs WHERE seasonal IS NULL;

-- the window form against lstm_predict on lstm_state_agg, at the first, middle and last origin
WITH o AS (
    SELECT *, row_number() OVER (ORDER BY ts) AS i, count(*) OVER () AS n
    FROM :fc
    WHERE y IS NOT NULL AND ts >= (SELECT max(ts) FROM :train WHERE :col IS NOT NULL))
INSERT INTO checks
SELECT :'tbl', o.ts, m.method,
       CASE m.method WHEN 'lstm series' THEN o.fc_series ELSE o.fc_landed END
           IS NOT DISTINCT FROM
       (SELECT lstm_predict(m.name, lstm_state_agg(m.name, :col ORDER BY ts), 13)
        FROM :tbl WHERE ts <= o.ts)
FROM o CROSS JOIN (VALUES ('lstm series', :'model'), ('lstm landed', :'landed')) m(method, name)
WHERE o.i IN (1, o.n / 2, o.n);

-- RMSE per method and k, then at 1, at 13 and the mean over k
WITH per_k AS (
    SELECT m.method, k, count(*) AS points, sqrt(avg((m.f - y) ^ 2)) AS rmse
    FROM :pairs p
    CROSS JOIN LATERAL (VALUES ('lstm series', lstm_series), ('lstm landed', lstm_landed),
                               ('naive', naive), ('seasonal naive', seasonal)) m(method, f)
    GROUP BY m.method, k),
rep AS (
    SELECT 'lstm series' AS method, :'report'::jsonb AS r
    UNION ALL SELECT 'lstm landed', :'landed_report'::jsonb)
INSERT INTO results
SELECT :'tbl', method,
       CASE method
           WHEN 'lstm series' THEN format('season => %s, horizon => 13 (members %s, log %s)',
                                          :season, r->>'members', r->>'log')
           WHEN 'lstm landed' THEN :'landed_options' || ' (global, fed back)'
           WHEN 'naive' THEN 'last value'
           ELSE format('value %s rows before the target', :season) END,
       round((r->>'elapsed_seconds')::numeric, 1),
       coalesce((SELECT string_agg(m->>'epochs_run', ',')
                 FROM jsonb_array_elements(r->'member_runs') m), r->>'epochs_run'),
       max(points) FILTER (WHERE k = 1), max(points) FILTER (WHERE k = 13),
       round((max(rmse) FILTER (WHERE k = 1))::numeric, 4),
       round((max(rmse) FILTER (WHERE k = 13))::numeric, 4),
       round(avg(rmse)::numeric, 4)
FROM per_k LEFT JOIN rep USING (method)
GROUP BY method, r;
