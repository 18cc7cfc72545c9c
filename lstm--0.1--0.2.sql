-- lstm 0.1 -> 0.2 upgrade script (ALTER EXTENSION lstm UPDATE TO '0.2').

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION lstm UPDATE TO '0.2'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- lstm_models: owners and sharing, enforced by row-level security.
-- Models stored before 0.2 belong to the role that runs the update (the
-- extension's owner); UPDATE lstm_models SET owner = ... hands them over.
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.lstm_models
    ALTER COLUMN created_at SET DEFAULT pg_catalog.now(),
    ADD COLUMN owner regrole NOT NULL
        DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
    ADD COLUMN shared_with regrole[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN @extschema@.lstm_models.owner IS
    'The role the model belongs to (the creating role by default): only members of it may '
    'replace, rename, share or delete the model';
COMMENT ON COLUMN @extschema@.lstm_models.shared_with IS
    'Roles the owner lets use (and read) the model besides its own members; ''-'' (0) means '
    'every role. Managed with lstm_model_share and lstm_model_unshare';

CREATE FUNCTION @extschema@.lstm_model_visible(owner regrole, shared_with regrole[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.pg_has_role(owner, 'USAGE')
        OR EXISTS (SELECT FROM pg_catalog.unnest(shared_with) AS r (role)
                   WHERE r.role OPERATOR(pg_catalog.=) 0::pg_catalog.regrole
                      OR pg_catalog.pg_has_role(r.role, 'USAGE'))
$$;
COMMENT ON FUNCTION @extschema@.lstm_model_visible(regrole, regrole[]) IS
    'The row-level security rule of lstm_models: may the current role use this model';
ALTER TABLE @extschema@.lstm_models ENABLE ROW LEVEL SECURITY;
CREATE POLICY lstm_models_use ON @extschema@.lstm_models FOR SELECT
    USING (@extschema@.lstm_model_visible(owner, shared_with));
CREATE POLICY lstm_models_create ON @extschema@.lstm_models FOR INSERT
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_change ON @extschema@.lstm_models FOR UPDATE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_delete ON @extschema@.lstm_models FOR DELETE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));

CREATE OR REPLACE FUNCTION @extschema@.lstm_models_fill_info() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.info := COALESCE(NEW.info, '{}'::pg_catalog.jsonb)
                OPERATOR(pg_catalog.||) @extschema@.lstm_model_info(NEW.model);
    RETURN NEW;
END
$$;
-- Share a model with a role (or with every role: 'public'), and take it back.
-- Only members of the model's owner can (the UPDATE goes through row-level
-- security); an unknown model or one the caller does not own is an error.
CREATE FUNCTION @extschema@.lstm_model_share(model text, grantee text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role regrole := CASE WHEN pg_catalog.lower(grantee) OPERATOR(pg_catalog.=) 'public'
                         THEN 0::regrole ELSE grantee::regrole END;
BEGIN
    UPDATE @extschema@.lstm_models m
       SET shared_with = pg_catalog.array_append(pg_catalog.array_remove(m.shared_with, role), role)
     WHERE m.name OPERATOR(pg_catalog.=) lstm_model_share.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist or is not owned by a role of %', model, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of a model''s owner role may share it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.lstm_model_share(text, text) IS
    'Let a role (or public) use and read a model; only the model''s owner may';
CREATE FUNCTION @extschema@.lstm_model_unshare(model text, grantee text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role regrole := CASE WHEN pg_catalog.lower(grantee) OPERATOR(pg_catalog.=) 'public'
                         THEN 0::regrole ELSE grantee::regrole END;
BEGIN
    UPDATE @extschema@.lstm_models m
       SET shared_with = pg_catalog.array_remove(m.shared_with, role)
     WHERE m.name OPERATOR(pg_catalog.=) lstm_model_unshare.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist or is not owned by a role of %', model, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of a model''s owner role may share it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.lstm_model_unshare(text, text) IS
    'Stop sharing a model with a role (or public); only the model''s owner may';

-- ---------------------------------------------------------------------------
-- lstm_stream_states: a saved state belongs to the table it scores (source),
-- with row-level security; series keys the same in every session.
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.lstm_stream_states
    ALTER COLUMN updated_at SET DEFAULT pg_catalog.now(),
    DROP CONSTRAINT lstm_stream_states_pkey,
    ADD COLUMN source regclass;

CREATE FUNCTION @extschema@.lstm_series_key(value anyelement) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.lstm_series_key(anyelement) IS
    'The text under which lstm_stream_states keeps the state of a series value: the same in '
    'every session (floats shortest-exact, dates ISO, timestamptz in UTC, intervals postgres '
    'style, bytea hex; other types their output)';

-- In 0.1 a state was keyed by model and series only. Each state goes to every table whose
-- lstm_score_trigger scores with its model (the root of a partitioned or inherited table),
-- a copy for each when several did share it; its key is rewritten in the canonical form of
-- the series column's type where that form differs. A state of a model that no trigger uses
-- is kept with source 0 ('-'): readable by the table's owner, to delete or reassign.
DO $upgrade$
DECLARE
    scored record;
    assigned bigint := 0;
BEGIN
    FOR scored IN
        WITH RECURSIVE triggers AS (
            SELECT t.tgrelid AS relid,
                   (pg_catalog.string_to_array(pg_catalog.encode(t.tgargs, 'escape'), '\000'))
                       AS args
            FROM pg_catalog.pg_trigger t
            WHERE t.tgfoid OPERATOR(pg_catalog.=) '@extschema@.lstm_score_trigger()'::pg_catalog.regprocedure
              AND NOT t.tgisinternal),
        up (leaf, relid) AS (
            SELECT relid, relid FROM triggers
            UNION
            SELECT up.leaf, i.inhparent FROM up JOIN pg_catalog.pg_inherits i
                ON i.inhrelid OPERATOR(pg_catalog.=) up.relid
               AND i.inhseqno OPERATOR(pg_catalog.=) 1),
        roots AS (
            SELECT up.leaf, up.relid AS root FROM up
            WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                              WHERE i.inhrelid OPERATOR(pg_catalog.=) up.relid))
        SELECT DISTINCT t.args[1] AS model, r.root,
               (SELECT a.atttypid FROM pg_catalog.pg_attribute a
                WHERE a.attrelid OPERATOR(pg_catalog.=) t.relid
                  AND a.attname OPERATOR(pg_catalog.=) t.args[3]
                  AND NOT a.attisdropped) AS series_type
        FROM triggers t JOIN roots r ON r.leaf OPERATOR(pg_catalog.=) t.relid
    LOOP
        INSERT INTO @extschema@.lstm_stream_states
            (model_name, series, state, last_time, last_time_type, late_rows, updated_at, source)
        SELECT s.model_name, s.series, s.state, s.last_time, s.last_time_type, s.late_rows,
               s.updated_at, scored.root
        FROM @extschema@.lstm_stream_states s
        WHERE s.model_name OPERATOR(pg_catalog.=) scored.model AND s.source IS NULL;
        GET DIAGNOSTICS assigned = ROW_COUNT;
        IF assigned OPERATOR(pg_catalog.>) 0
           AND (SELECT CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typbasetype
                            ELSE t.oid END
                FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) scored.series_type)
               OPERATOR(pg_catalog.=) ANY ('{real,"double precision",date,
                   "timestamp without time zone","timestamp with time zone",interval,
                   bytea}'::pg_catalog.regtype[])
        THEN
            BEGIN
                EXECUTE pg_catalog.format(
                    'UPDATE @extschema@.lstm_stream_states SET series = '
                    '@extschema@.lstm_series_key(series::%s) '
                    'WHERE model_name OPERATOR(pg_catalog.=) $1 '
                    'AND source OPERATOR(pg_catalog.=) $2 '
                    'AND series OPERATOR(pg_catalog.<>) ''''',
                    pg_catalog.format_type(scored.series_type, NULL))
                USING scored.model, scored.root;
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'lstm: the series keys of model "%" on % keep their 0.1 form: %',
                    scored.model, scored.root, SQLERRM;
            END;
        END IF;
    END LOOP;
    DELETE FROM @extschema@.lstm_stream_states s
    WHERE s.source IS NULL AND EXISTS (
        SELECT FROM @extschema@.lstm_stream_states o
        WHERE o.model_name OPERATOR(pg_catalog.=) s.model_name AND o.source IS NOT NULL);
    UPDATE @extschema@.lstm_stream_states SET source = 0 WHERE source IS NULL;
    -- Keys that 0.1 wrote differently for one value (a timestamptz seen from two time zones)
    -- are one key now: the state updated last is kept.
    DELETE FROM @extschema@.lstm_stream_states s
    USING @extschema@.lstm_stream_states o
    WHERE o.model_name OPERATOR(pg_catalog.=) s.model_name
      AND o.source OPERATOR(pg_catalog.=) s.source
      AND o.series OPERATOR(pg_catalog.=) s.series
      AND (s.updated_at OPERATOR(pg_catalog.<) o.updated_at
           OR (s.updated_at OPERATOR(pg_catalog.=) o.updated_at
               AND s.ctid OPERATOR(pg_catalog.<) o.ctid));
    GET DIAGNOSTICS assigned = ROW_COUNT;
    IF assigned OPERATOR(pg_catalog.>) 0 THEN
        RAISE WARNING 'lstm: % saved states had the key of a newer one and were dropped', assigned;
    END IF;
END
$upgrade$;

ALTER TABLE @extschema@.lstm_stream_states
    ALTER COLUMN source SET NOT NULL,
    ADD PRIMARY KEY (model_name, source, series);
COMMENT ON COLUMN @extschema@.lstm_stream_states.series IS
    'The series column''s value as lstm_series_key() gives it (the same in every session); '
    ''''' for a single series';
COMMENT ON COLUMN @extschema@.lstm_stream_states.source IS
    'The scored table (the root of a partitioned or inherited table): states belong to it';

ALTER TABLE @extschema@.lstm_stream_states ENABLE ROW LEVEL SECURITY;
CREATE POLICY lstm_stream_states_read ON @extschema@.lstm_stream_states FOR SELECT
    USING (pg_catalog.has_table_privilege(source, 'SELECT')
           OR pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_create ON @extschema@.lstm_stream_states FOR INSERT
    WITH CHECK (pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_change ON @extschema@.lstm_stream_states FOR UPDATE
    USING (pg_catalog.has_table_privilege(source, 'INSERT'))
    WITH CHECK (pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_delete ON @extschema@.lstm_stream_states FOR DELETE
    USING (pg_catalog.has_table_privilege(source, 'INSERT'));

DROP FUNCTION @extschema@.lstm_stream_reset(text, text);

CREATE FUNCTION @extschema@.lstm_stream_reset(model text, series text DEFAULT NULL,
                                  source regclass DEFAULT NULL) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM @extschema@.lstm_stream_states s
        WHERE s.model_name OPERATOR(pg_catalog.=) lstm_stream_reset.model
          AND (lstm_stream_reset.series IS NULL
               OR s.series OPERATOR(pg_catalog.=) lstm_stream_reset.series)
          AND (lstm_stream_reset.source IS NULL
               OR s.source OPERATOR(pg_catalog.=) lstm_stream_reset.source)
        RETURNING 1)
    SELECT pg_catalog.count(*) FROM gone
$$;
COMMENT ON FUNCTION @extschema@.lstm_stream_reset(text, text, regclass) IS
    'Delete the saved streaming states of a model (all series, or one; of every scored table, '
    'or of one); returns how many';

DROP FUNCTION @extschema@.lstm_stream_rebuild(text, regclass, text, text, text, text);
CREATE FUNCTION @extschema@.lstm_stream_rebuild(model text, source regclass, value_column text,
                                    series_column text, time_column text,
                                    series text DEFAULT NULL, settings jsonb DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.lstm_stream_rebuild(text, regclass, text, text, text, text, jsonb) IS
    'Recompute the saved streaming states of a model (all series, or one) from a table''s rows '
    'in time order, as lstm_score_trigger would have saved them (with its anomaly settings); '
    'returns the number of series';

-- ---------------------------------------------------------------------------
-- The anomaly score's settings (a jsonb object; README "Anomaly score"): taken
-- where a series starts, kept in its state. lstm_anomaly gives every row's
-- forecast, residual, z, score and alert.
-- ---------------------------------------------------------------------------

CREATE FUNCTION lstm_state_sfunc(internal, lstm_model, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, text, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, lstm_model, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_state_sfunc(internal, text, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, lstm_model, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, text, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, lstm_model, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_sfunc(internal, text, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8[]) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8, jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, lstm_model, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_anomaly_row_sfunc(internal, text, float8[], jsonb) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;

CREATE TYPE lstm_anomaly_row AS (forecast float8, residual float8, z float8, score float8,
                                 alert boolean);
COMMENT ON TYPE lstm_anomaly_row IS
    'One row as the anomaly score sees it: the forecast made before it, its residual (value - '
    'forecast), z against the recent residuals, the score in [0, 1] and the alert (score >= '
    'threshold)';
CREATE FUNCTION lstm_anomaly_row_final(internal) RETURNS lstm_anomaly_row
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE lstm_state_agg(model lstm_model, value float8, settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model text, value float8, settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model lstm_model, features float8[], settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_state_agg(model text, features float8[], settings jsonb) (
    SFUNC = lstm_state_sfunc, STYPE = internal,
    FINALFUNC = lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_state_agg(lstm_model, float8, jsonb) IS
    'The state after the rows, scored with these anomaly settings (kept in the state)';
COMMENT ON AGGREGATE lstm_state_agg(text, float8, jsonb) IS
    'The state after the rows, with the model named in lstm_models and these anomaly settings';
COMMENT ON AGGREGATE lstm_state_agg(lstm_model, float8[], jsonb) IS
    'The state after the rows of a multivariate model, with these anomaly settings';
COMMENT ON AGGREGATE lstm_state_agg(text, float8[], jsonb) IS
    'The state after the rows of a multivariate model named in lstm_models, with these anomaly '
    'settings';

CREATE AGGREGATE lstm_anomaly_score(model lstm_model, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model text, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model lstm_model, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly_score(model text, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_anomaly_score(lstm_model, float8, jsonb) IS
    'Anomaly score in [0, 1] of the last row, with these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly_score(text, float8, jsonb) IS
    'Anomaly score in [0, 1] of the last row, with the model named in lstm_models and these '
    'anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly_score(lstm_model, float8[], jsonb) IS
    'Anomaly score in [0, 1] of the last row of a multivariate model, with these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly_score(text, float8[], jsonb) IS
    'Anomaly score in [0, 1] of the last row of a multivariate model named in lstm_models, with '
    'these anomaly settings';

CREATE AGGREGATE lstm_anomaly(model lstm_model, value float8) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, value float8) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model lstm_model, features float8[]) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, features float8[]) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model lstm_model, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, value float8, settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model lstm_model, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_anomaly(model text, features float8[], settings jsonb) (
    SFUNC = lstm_anomaly_row_sfunc, STYPE = internal,
    FINALFUNC = lstm_anomaly_row_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8) IS
    'The last row''s (forecast, residual, z, score, alert); as a window function (PARTITION BY '
    'series ORDER BY time) every row''s, as the scoring trigger gives them';
COMMENT ON AGGREGATE lstm_anomaly(text, float8) IS
    'The last row''s (forecast, residual, z, score, alert), with the model named in lstm_models';
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8[]) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model';
COMMENT ON AGGREGATE lstm_anomaly(text, float8[]) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model named in '
    'lstm_models';
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8, jsonb) IS
    'The last row''s (forecast, residual, z, score, alert), with these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly(text, float8, jsonb) IS
    'The last row''s (forecast, residual, z, score, alert), with the model named in lstm_models '
    'and these anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly(lstm_model, float8[], jsonb) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model, with these '
    'anomaly settings';
COMMENT ON AGGREGATE lstm_anomaly(text, float8[], jsonb) IS
    'The last row''s (forecast, residual, z, score, alert) for a multivariate model named in '
    'lstm_models, with these anomaly settings';

CREATE FUNCTION lstm_step(model lstm_model, state lstm_state, value float8, settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model text, state lstm_state, value float8, settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model lstm_model, state lstm_state, features float8[], settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_step(model text, state lstm_state, features float8[], settings jsonb)
    RETURNS lstm_state
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION lstm_step(lstm_model, lstm_state, float8, jsonb) IS
    'The state after one more row; a NULL state starts a series with these anomaly settings, a '
    'state must have them';
COMMENT ON FUNCTION lstm_step(text, lstm_state, float8, jsonb) IS
    'The state after one more row, with the model named in lstm_models and these anomaly settings';
COMMENT ON FUNCTION lstm_step(lstm_model, lstm_state, float8[], jsonb) IS
    'The state after one more row of features, with these anomaly settings';
COMMENT ON FUNCTION lstm_step(text, lstm_state, float8[], jsonb) IS
    'The state after one more row of features, with the model named in lstm_models and these '
    'anomaly settings';

COMMENT ON FUNCTION @extschema@.lstm_score_trigger() IS
    'BEFORE INSERT FOR EACH ROW trigger; arguments: model name, value column, series column or '
    'NULL, forecast column or NULL, score column or NULL[, time column or NULL[, anomaly settings '
    '(JSON) or NULL[, alert column]]]. Fills the forecast made before the row, its anomaly score '
    'and alert, then advances the series'' saved state';

-- lstm_train gains season, horizon, scaling, log, members and loss (issue 9), and NULL defaults
-- for batch_size, epochs, learning_rate and patience (the defaults of the scaling).
DROP FUNCTION @extschema@.lstm_train(text, regclass, text, text, text, text[], int, int, int, int,
                                     int, float8, float8, float8, int, bigint, boolean);

CREATE FUNCTION @extschema@.lstm_train(
    name text,
    source regclass,
    value text,
    time_column text DEFAULT NULL,
    series text DEFAULT NULL,
    features text[] DEFAULT NULL,
    hidden int DEFAULT 32,
    layers int DEFAULT 1,
    bptt int DEFAULT 32,
    batch_size int DEFAULT NULL,
    epochs int DEFAULT NULL,
    learning_rate float8 DEFAULT NULL,
    clip float8 DEFAULT 1.0,
    validation float8 DEFAULT 0.2,
    patience int DEFAULT NULL,
    seed bigint DEFAULT 0,
    difference boolean DEFAULT false,
    season int DEFAULT NULL,
    horizon int DEFAULT NULL,
    scaling text DEFAULT NULL,
    log text DEFAULT 'auto',
    members int DEFAULT NULL,
    loss text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'lstm_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.lstm_train(text, regclass, text, text, text, text[], int, int, int, int, int,
                               float8, float8, float8, int, bigint, boolean, int, int, text, text,
                               int, text) IS
    'Train an LSTM forecaster on the series in source (value ordered by time_column, split by '
    'series, with optional feature columns; or one float8[] sequence per row) and store it in '
    'lstm_models under name; returns the training report. With season or horizon (or scaling '
    '=> ''series'') every series is normalised by its own streaming statistics and the model '
    'forecasts horizon steps at once (members trained one after the other, median forecast)';

-- ---------------------------------------------------------------------------
-- Parallel queries: the aggregates are PARALLEL SAFE (0.1 left them PARALLEL
-- UNSAFE, the default, which kept any query using one from a parallel plan).
-- They have no combine function, so the aggregation itself runs above the
-- Gather while the scan below it can be parallel. ALTER AGGREGATE cannot set
-- PARALLEL: CREATE OR REPLACE AGGREGATE does, keeping each aggregate's OID,
-- comment and dependents (views). Their support functions were PARALLEL SAFE
-- already in 0.1.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE AGGREGATE @extschema@.lstm_forecast(model @extschema@.lstm_model, value float8) (
    SFUNC = @extschema@.lstm_forecast_value_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_forecast(model text, value float8) (
    SFUNC = @extschema@.lstm_forecast_value_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_forecast(model @extschema@.lstm_model, value float8, horizon int) (
    SFUNC = @extschema@.lstm_forecast_horizon_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_forecast_horizon_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_forecast(model text, value float8, horizon int) (
    SFUNC = @extschema@.lstm_forecast_horizon_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_forecast_horizon_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_forecast(model @extschema@.lstm_model, features float8[]) (
    SFUNC = @extschema@.lstm_forecast_features_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_forecast(model text, features float8[]) (
    SFUNC = @extschema@.lstm_forecast_features_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_forecast_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_state_agg(model @extschema@.lstm_model, value float8) (
    SFUNC = @extschema@.lstm_state_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_state_agg(model text, value float8) (
    SFUNC = @extschema@.lstm_state_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_state_agg(model @extschema@.lstm_model, features float8[]) (
    SFUNC = @extschema@.lstm_state_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_state_agg(model text, features float8[]) (
    SFUNC = @extschema@.lstm_state_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_state_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_anomaly_score(model @extschema@.lstm_model, value float8) (
    SFUNC = @extschema@.lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_anomaly_score(model text, value float8) (
    SFUNC = @extschema@.lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_anomaly_score(model @extschema@.lstm_model, features float8[]) (
    SFUNC = @extschema@.lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE OR REPLACE AGGREGATE @extschema@.lstm_anomaly_score(model text, features float8[]) (
    SFUNC = @extschema@.lstm_anomaly_sfunc, STYPE = internal,
    FINALFUNC = @extschema@.lstm_anomaly_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
