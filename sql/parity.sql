--
-- parity: lstm_forecast against PyTorch float32 on the committed reference
-- cases of test/parity/fixtures.json (made by test/parity/make_fixtures.py).
--
-- The fixtures are read by psql on the client (no server-side file access, no
-- torch). For every case the model JSON is cast to lstm_model and run as an
-- aggregate (scalar value and feature array forms), as a window function
-- (running forecasts) and, for univariate models, with a horizon. A value
-- passes when |got - expected| <= 1e-5 * max(1, |expected|). Only booleans
-- are printed; a failing value also raises a NOTICE naming the case and the
-- error, so any failure shows up as a diff.
--
\i test/sql/helpers.sql
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixtures `cat :abs_srcdir/test/parity/fixtures.json`
CREATE TEMP TABLE parity_doc AS SELECT :'fixtures'::jsonb AS doc;
\unset fixtures

-- One row per reference case.
CREATE TEMP TABLE parity_case AS
SELECT ord::int AS case_id,
       c->>'name' AS name,
       (c->>'input_size')::int AS input_size,
       (c->>'hidden_size')::int AS hidden_size,
       (c->>'num_layers')::int AS num_layers,
       (c->>'rows')::int AS nrows,
       (c->>'difference')::bool AS difference,
       c->'model' AS model_json,
       (c->>'forecast')::float8 AS forecast,
       ARRAY(SELECT jsonb_array_elements_text(c->'running'->'index')::int) AS running_index,
       ARRAY(SELECT jsonb_array_elements_text(c->'running'->'value')::float8) AS running_value,
       CASE WHEN c ? 'horizon'
            THEN ARRAY(SELECT jsonb_array_elements_text(c->'horizon')::float8) END AS horizon
FROM parity_doc, jsonb_array_elements(doc->'cases') WITH ORDINALITY AS t(c, ord);
ALTER TABLE parity_case ADD PRIMARY KEY (case_id);

-- The raw input rows of every case, step numbered from 0.
CREATE TEMP TABLE parity_row AS
SELECT ord::int AS case_id, (step - 1)::int AS step,
       ARRAY(SELECT jsonb_array_elements_text(r)::float8) AS features
FROM parity_doc, jsonb_array_elements(doc->'cases') WITH ORDINALITY AS t(c, ord),
     jsonb_array_elements(c->'inputs') WITH ORDINALITY AS s(r, step);
DROP TABLE parity_doc;

SELECT count(*) AS cases, sum(nrows) AS rows,
       (SELECT count(*) FROM parity_row) = sum(nrows) AS rows_loaded
FROM parity_case;

-- The models that cast successfully (filled by parity_check).
CREATE TEMP TABLE parity_model (case_id int PRIMARY KEY, model lstm_model NOT NULL);

-- Is got within the parity tolerance of expected? NULL counts as a failure.
CREATE FUNCTION pg_temp.parity_close(got float8, expected float8) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(abs(got - expected) <= 1e-5 * greatest(1.0, abs(expected)), false)
$$;

-- Relative error of got against expected (for the failure notices).
CREATE FUNCTION pg_temp.parity_error(got float8, expected float8) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
    SELECT abs(got - expected) / greatest(1.0, abs(expected))
$$;

-- Are two arrays of forecasts the same length and close element by element?
CREATE FUNCTION pg_temp.parity_close_all(got float8[], expected float8[]) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(cardinality(got) = cardinality(expected)
                    AND (SELECT bool_and(pg_temp.parity_close(g, e))
                         FROM unnest(got, expected) AS u(g, e)), false)
$$;

--
-- parity_check: run one case every way lstm_forecast can be called and
-- compare with PyTorch. An error or a value out of tolerance gives false and a
-- NOTICE with the details; checks that do not apply to the case are NULL.
--
CREATE FUNCTION pg_temp.parity_check(p_case int,
    OUT model_ok bool, OUT value_ok bool, OUT features_ok bool, OUT running_ok bool,
    OUT horizon_ok bool)
LANGUAGE plpgsql AS $$
DECLARE
    pc parity_case;
    m lstm_model;
    got float8;
    got_all float8[];
    worst float8;
    matched bigint;
BEGIN
    SELECT * INTO STRICT pc FROM parity_case WHERE case_id = p_case;

    BEGIN
        m := pc.model_json::lstm_model;
        INSERT INTO parity_model VALUES (p_case, m);
        model_ok := true;
    EXCEPTION WHEN others THEN
        RAISE NOTICE '%: model cast failed: %', pc.name, SQLERRM;
        model_ok := false;
        RETURN;
    END;

    -- aggregate, scalar value form (univariate models)
    IF pc.input_size = 1 THEN
        BEGIN
            SELECT lstm_forecast(m, r.features[1] ORDER BY r.step) INTO got
            FROM parity_row r WHERE r.case_id = p_case;
            value_ok := pg_temp.parity_close(got, pc.forecast);
        EXCEPTION WHEN others THEN
            RAISE NOTICE '%: value aggregate failed: %', pc.name, SQLERRM;
            value_ok := false;
        END;
        IF NOT value_ok AND got IS NOT NULL THEN
            RAISE NOTICE '%: value aggregate % expected % (relative error %)',
                pc.name, got, pc.forecast, pg_temp.parity_error(got, pc.forecast);
        END IF;
    END IF;

    -- aggregate, feature array form (every model)
    got := NULL;
    BEGIN
        SELECT lstm_forecast(m, r.features ORDER BY r.step) INTO got
        FROM parity_row r WHERE r.case_id = p_case;
        features_ok := pg_temp.parity_close(got, pc.forecast);
    EXCEPTION WHEN others THEN
        RAISE NOTICE '%: features aggregate failed: %', pc.name, SQLERRM;
        features_ok := false;
    END;
    IF NOT features_ok AND got IS NOT NULL THEN
        RAISE NOTICE '%: features aggregate % expected % (relative error %)',
            pc.name, got, pc.forecast, pg_temp.parity_error(got, pc.forecast);
    END IF;

    -- window function: the running forecast after every row, compared at the
    -- rows the fixture keeps
    BEGIN
        IF pc.input_size = 1 THEN
            SELECT array_agg(w.got ORDER BY w.step) INTO got_all
            FROM (SELECT r.step, lstm_forecast(m, r.features[1]) OVER (ORDER BY r.step) AS got
                  FROM parity_row r WHERE r.case_id = p_case) w
            WHERE w.step = ANY (pc.running_index);
        ELSE
            SELECT array_agg(w.got ORDER BY w.step) INTO got_all
            FROM (SELECT r.step, lstm_forecast(m, r.features) OVER (ORDER BY r.step) AS got
                  FROM parity_row r WHERE r.case_id = p_case) w
            WHERE w.step = ANY (pc.running_index);
        END IF;
        SELECT coalesce(bool_and(pg_temp.parity_close(g, e)), false),
               max(pg_temp.parity_error(g, e)), count(g)
        INTO running_ok, worst, matched
        FROM unnest(got_all, pc.running_value) AS u(g, e);
        IF matched <> cardinality(pc.running_index) THEN
            RAISE NOTICE '%: % running forecasts for % expected', pc.name, matched,
                cardinality(pc.running_index);
            running_ok := false;
        ELSIF NOT running_ok THEN
            RAISE NOTICE '%: running forecasts off by up to % (relative)', pc.name, worst;
        END IF;
    EXCEPTION WHEN others THEN
        RAISE NOTICE '%: window failed: %', pc.name, SQLERRM;
        running_ok := false;
    END;

    -- horizon: forecasts fed back (univariate models)
    IF pc.horizon IS NOT NULL THEN
        BEGIN
            SELECT lstm_forecast(m, r.features[1], cardinality(pc.horizon) ORDER BY r.step)
            INTO got_all FROM parity_row r WHERE r.case_id = p_case;
            horizon_ok := pg_temp.parity_close_all(got_all, pc.horizon);
            IF NOT horizon_ok THEN
                RAISE NOTICE '%: horizon % expected %', pc.name, got_all, pc.horizon;
            END IF;
        EXCEPTION WHEN others THEN
            RAISE NOTICE '%: horizon failed: %', pc.name, SQLERRM;
            horizon_ok := false;
        END;
    END IF;
END
$$;

-- One row per case: every applicable check must be true.
CREATE TEMP TABLE parity_result AS
SELECT pc.case_id, pc.name, pc.input_size AS i, pc.hidden_size AS h, pc.num_layers AS l,
       pc.nrows AS t, pc.difference AS diff, r.*
FROM parity_case pc, LATERAL pg_temp.parity_check(pc.case_id) r;

SELECT name, i, h, l, t, diff, model_ok, value_ok, features_ok, running_ok, horizon_ok
FROM parity_result ORDER BY case_id;

-- Every model at once, grouped by case: the aggregate switches models
-- between groups.
SELECT count(*) AS grouped_cases,
       bool_and(pg_temp.parity_close(g.got, pc.forecast)) AS grouped_ok
FROM (SELECT pm.case_id, lstm_forecast(pm.model, r.features ORDER BY r.step) AS got
      FROM parity_row r JOIN parity_model pm USING (case_id)
      GROUP BY pm.case_id) g
JOIN parity_case pc USING (case_id);

-- Every model at once as a window partitioned by case.
SELECT count(*) AS running_values,
       bool_and(pg_temp.parity_close(w.got, e.expected)) AS partitioned_ok
FROM (SELECT r.case_id, r.step,
             lstm_forecast(pm.model, r.features)
                 OVER (PARTITION BY r.case_id ORDER BY r.step) AS got
      FROM parity_row r JOIN parity_model pm USING (case_id)) w
JOIN (SELECT pc.case_id, e.step, e.expected
      FROM parity_case pc, unnest(pc.running_index, pc.running_value) AS e(step, expected)) e
  USING (case_id, step);

-- The same models by name from lstm_models (rolled back afterwards).
BEGIN;
INSERT INTO lstm_models (name, model)
SELECT 'pa_' || pc.name, pm.model FROM parity_model pm JOIN parity_case pc USING (case_id);
SELECT count(*) AS named_cases,
       bool_and(pg_temp.parity_close(g.got, pc.forecast)) AS named_ok
FROM (SELECT r.case_id, lstm_forecast('pa_' || pc.name, r.features ORDER BY r.step) AS got
      FROM parity_row r JOIN parity_case pc USING (case_id) JOIN parity_model USING (case_id)
      GROUP BY r.case_id, pc.name) g
JOIN parity_case pc USING (case_id);
SELECT count(*) AS named_horizons,
       bool_and(pg_temp.parity_close_all(g.got, pc.horizon)) AS named_horizon_ok
FROM (SELECT r.case_id,
             lstm_forecast('pa_' || pc.name, r.features[1], cardinality(pc.horizon)
                           ORDER BY r.step) AS got
      FROM parity_row r JOIN parity_case pc USING (case_id) JOIN parity_model USING (case_id)
      WHERE pc.horizon IS NOT NULL
      GROUP BY r.case_id, pc.name, pc.horizon) g
JOIN parity_case pc USING (case_id);
ROLLBACK;

-- Summary: the number of cases and how many passed every check.
SELECT count(*) AS cases,
       count(*) FILTER (WHERE model_ok AND value_ok IS NOT FALSE AND features_ok
                        AND running_ok AND horizon_ok IS NOT FALSE) AS passed
FROM parity_result;

-- ---------------------------------------------------------------------------
-- Series-scaled models (format version 2: the per-series normaliser, a direct
-- three-step head, the median of 2 or 3 members) against PyTorch, from
-- test/parity/series_fixtures.json (test/parity/make_series_fixtures.py):
-- one-step aggregate, direct horizon, by name, window, and lstm_predict of
-- lstm_state_agg, each within the same tolerance.
-- ---------------------------------------------------------------------------
\set series_fixtures `cat :abs_srcdir/test/parity/series_fixtures.json`
CREATE TEMP TABLE series_case AS
SELECT ord::int AS case_id, c->>'name' AS name, (c->'model')::text::lstm_model AS model,
       (c->>'forecast')::float8 AS forecast,
       ARRAY(SELECT jsonb_array_elements_text(c->'horizon')::float8) AS horizon,
       ARRAY(SELECT jsonb_array_elements_text(c->'running')::float8) AS running
FROM jsonb_array_elements((:'series_fixtures')::jsonb->'cases') WITH ORDINALITY AS t(c, ord);
CREATE TEMP TABLE series_row AS
SELECT ord::int AS case_id, (i - 1)::int AS step, v::float8 AS value
FROM jsonb_array_elements((:'series_fixtures')::jsonb->'cases') WITH ORDINALITY AS t(c, ord),
     jsonb_array_elements_text(c->'inputs') WITH ORDINALITY AS r(v, i);
\unset series_fixtures

SELECT count(*) AS series_cases,
       bool_and((lstm_model_info(model)->>'format_version')::int = 2) AS version_2
FROM series_case;

-- One-step and direct-horizon aggregates, and lstm_predict of lstm_state_agg.
SELECT sc.name,
       pg_temp.parity_close(a.one, sc.forecast) AS one_step_ok,
       pg_temp.parity_close_all(a.direct, sc.horizon) AS horizon_ok,
       pg_temp.parity_close_all(a.first_two, sc.horizon[1:2]) AS horizon_2_ok,
       pg_temp.parity_close(lstm_predict(sc.model, a.state), sc.forecast) AS predict_ok,
       pg_temp.parity_close_all(lstm_predict(sc.model, a.state, 3), sc.horizon) AS predict_horizon_ok
FROM series_case sc
CROSS JOIN LATERAL (
    SELECT lstm_forecast(sc.model, r.value ORDER BY r.step) AS one,
           lstm_forecast(sc.model, r.value, 3 ORDER BY r.step) AS direct,
           lstm_forecast(sc.model, r.value, 2 ORDER BY r.step) AS first_two,
           lstm_state_agg(sc.model, r.value ORDER BY r.step) AS state
    FROM series_row r WHERE r.case_id = sc.case_id) a
ORDER BY sc.case_id;

-- Window form: the running one-step forecast after every row.
SELECT sc.name, count(*) = cardinality(sc.running) AS all_rows,
       bool_and(pg_temp.parity_close(w.got, sc.running[w.step + 1])) AS running_ok
FROM series_case sc
JOIN LATERAL (SELECT r.step, lstm_forecast(sc.model, r.value) OVER (ORDER BY r.step) AS got
              FROM series_row r WHERE r.case_id = sc.case_id) w ON true
GROUP BY sc.case_id, sc.name, sc.running
ORDER BY sc.case_id;

-- By name from lstm_models (rolled back afterwards).
BEGIN;
INSERT INTO lstm_models (name, model) SELECT 'pa_' || name, model FROM series_case;
SELECT sc.name,
       pg_temp.parity_close(lstm_forecast('pa_' || sc.name, r.value ORDER BY r.step), sc.forecast)
           AS named_ok,
       pg_temp.parity_close_all(lstm_forecast('pa_' || sc.name, r.value, 3 ORDER BY r.step),
                                sc.horizon) AS named_horizon_ok
FROM series_case sc JOIN series_row r USING (case_id)
GROUP BY sc.case_id, sc.name, sc.forecast, sc.horizon
ORDER BY sc.case_id;
ROLLBACK;
