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
CREATE FUNCTION @extschema@.lstm_model_set_sharing(model text, grantee text, share boolean) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role regrole := CASE WHEN pg_catalog.lower(grantee) OPERATOR(pg_catalog.=) 'public'
                         THEN 0::regrole ELSE grantee::regrole END;
BEGIN
    UPDATE @extschema@.lstm_models m
       SET shared_with = pg_catalog.array_remove(m.shared_with, role)
                         OPERATOR(pg_catalog.||)
                         CASE WHEN share THEN ARRAY[role] ELSE '{}'::regrole[] END
     WHERE m.name OPERATOR(pg_catalog.=) lstm_model_set_sharing.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist or is not owned by a role of %', model, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of a model''s owner role may share it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.lstm_model_set_sharing(text, text, boolean) IS
    'The rule behind lstm_model_share and lstm_model_unshare';
CREATE FUNCTION @extschema@.lstm_model_share(model text, grantee text) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.lstm_model_set_sharing(model, grantee, true) $$;
COMMENT ON FUNCTION @extschema@.lstm_model_share(text, text) IS
    'Let a role (or public) use and read a model; only the model''s owner may';
CREATE FUNCTION @extschema@.lstm_model_unshare(model text, grantee text) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.lstm_model_set_sharing(model, grantee, false) $$;
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

-- ---------------------------------------------------------------------------
-- Prediction intervals and evaluation. A series-scaled model trained with
-- validation rows holds the quantiles of its validation errors per step
-- (calibration); lstm_forecast_interval (aggregate and window) and
-- lstm_predict_interval (from a state) return every step's forecast with its
-- bounds at a level; lstm_evaluate backtests a model on a table.
-- ---------------------------------------------------------------------------

CREATE TYPE lstm_interval AS (step int, forecast float8, lower float8, upper float8);
COMMENT ON TYPE lstm_interval IS
    'One step of a forecast with its prediction interval: step (1 = the next row), the point '
    'forecast and the lower and upper bounds';

CREATE FUNCTION lstm_forecast_interval_sfunc(internal, lstm_model, float8, int) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_sfunc(internal, text, float8, int) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_sfunc(internal, lstm_model, float8, int, float8)
    RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_sfunc(internal, text, float8, int, float8)
    RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lstm_forecast_interval_final(internal) RETURNS lstm_interval[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE lstm_forecast_interval(model lstm_model, value float8, horizon int) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast_interval(model text, value float8, horizon int) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast_interval(model lstm_model, value float8, horizon int,
                                        level float8) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
CREATE AGGREGATE lstm_forecast_interval(model text, value float8, horizon int, level float8) (
    SFUNC = lstm_forecast_interval_sfunc, STYPE = internal,
    FINALFUNC = lstm_forecast_interval_final, FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE lstm_forecast_interval(lstm_model, float8, int) IS
    'The next horizon forecasts of a calibrated model with their 95 % prediction intervals';
COMMENT ON AGGREGATE lstm_forecast_interval(text, float8, int) IS
    'The next horizon forecasts with their 95 % prediction intervals, model named in lstm_models';
COMMENT ON AGGREGATE lstm_forecast_interval(lstm_model, float8, int, float8) IS
    'The next horizon forecasts of a calibrated model with prediction intervals at level';
COMMENT ON AGGREGATE lstm_forecast_interval(text, float8, int, float8) IS
    'The next horizon forecasts with prediction intervals at level, model named in lstm_models';

CREATE FUNCTION lstm_predict_interval(model lstm_model, state lstm_state, horizon int,
                                      level float8 DEFAULT 0.95) RETURNS lstm_interval[]
    AS 'MODULE_PATHNAME', 'lstm_predict_interval' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_predict_interval(model text, state lstm_state, horizon int,
                                      level float8 DEFAULT 0.95) RETURNS lstm_interval[]
    AS 'MODULE_PATHNAME', 'lstm_predict_interval' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_predict_interval(lstm_model, lstm_state, int, float8) IS
    'The next horizon forecasts after a state with their prediction intervals at level';
COMMENT ON FUNCTION lstm_predict_interval(text, lstm_state, int, float8) IS
    'The next horizon forecasts after a state with prediction intervals, model named in '
    'lstm_models';

CREATE TYPE lstm_evaluation AS (
    series text, n_forecasts bigint,
    smape float8, mase float8, rmse float8, coverage float8, msis float8,
    naive_smape float8, naive_mase float8, naive_rmse float8,
    naive_coverage float8, naive_msis float8,
    snaive_smape float8, snaive_mase float8, snaive_rmse float8);
COMMENT ON TYPE lstm_evaluation IS
    'A row of lstm_evaluate: one series (the overall row: series NULL) with the model''s '
    'accuracy and that of the naive and seasonal naive forecasts';

-- lstm_evaluate: backtest a stored calibrated model on a table, as README
-- "Evaluation" describes. Every origin is one of the last `origins` rows that
-- leave `horizon` rows after them; the in-sample part (MASE's scale, the naive
-- intervals) is every row up to the first origin.
CREATE FUNCTION lstm_evaluate(model text, source regclass, value text, time_column text,
                              series text DEFAULT NULL, horizon int DEFAULT NULL,
                              season int DEFAULT 1, level float8 DEFAULT 0.95,
                              origins int DEFAULT 1)
RETURNS SETOF lstm_evaluation
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp SET jit = off AS $$
DECLARE
    info jsonb;
    steps int;
    most int;
BEGIN
    IF model IS NULL OR source IS NULL OR value IS NULL OR time_column IS NULL THEN
        RAISE EXCEPTION 'lstm_evaluate model, source, value and time_column must not be NULL'
            USING ERRCODE = '22004';
    END IF;
    info := @extschema@.lstm_model_info(@extschema@.lstm_model_by_name(model));
    most := (info OPERATOR(pg_catalog.->>) 'output_size')::int;
    IF NOT coalesce((info OPERATOR(pg_catalog.->>) 'calibrated')::boolean, false) THEN
        RAISE EXCEPTION 'lstm_evaluate needs a model with prediction interval calibration'
            USING ERRCODE = '22023',
                  DETAIL = format('Model "%s" holds no calibration data: intervals come from '
                                  'the validation errors that lstm_train stores in a '
                                  'series-scaled model (season or horizon given, validation '
                                  '> 0).', model);
    END IF;
    steps := coalesce(horizon, most);
    IF steps < 1 OR steps > most THEN
        RAISE EXCEPTION 'lstm_evaluate horizon % is outside 1 to %', steps, most
            USING ERRCODE = '22023',
                  DETAIL = format('Model "%s" forecasts at most %s steps.', model, most);
    END IF;
    IF season IS NULL OR season < 1 THEN
        RAISE EXCEPTION 'lstm_evaluate season must be at least 1, got %', season
            USING ERRCODE = '22023',
                  DETAIL = 'The season is the period of the seasonal naive forecast and of '
                           'MASE''s scale: 1 for none (the naive forecast), 52 for weekly data.';
    END IF;
    IF level IS NULL OR NOT (level > 0 AND level < 1) THEN
        RAISE EXCEPTION 'lstm_evaluate level must be between 0 and 1 (exclusive), got %', level
            USING ERRCODE = '22023';
    END IF;
    IF origins IS NULL OR origins < 1 THEN
        RAISE EXCEPTION 'lstm_evaluate origins must be at least 1, got %', origins
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY EXECUTE format($q$
WITH RECURSIVE src AS (
    SELECT %s AS key, %I AS t, (%I)::pg_catalog.float8 AS y FROM %s
    WHERE %I IS NOT NULL AND %I IS NOT NULL %s
), num AS (
    SELECT key, y, row_number() OVER (PARTITION BY key ORDER BY t, y) AS i,
           count(*) OVER (PARTITION BY key) AS n
    FROM src
), ser AS (
    SELECT key, max(n) AS n, max(n) - $2 - $5 + 1 AS first_origin FROM num GROUP BY key
), insample AS (
    SELECT num.key, num.y - lag(num.y, $3) OVER w AS dm, num.y - lag(num.y) OVER w AS d1
    FROM num JOIN ser s ON s.key = num.key
    WHERE num.i <= s.first_origin
    WINDOW w AS (PARTITION BY num.key ORDER BY num.i)
), scales AS (
    SELECT key, avg(abs(dm)) AS scale,
           percentile_cont($4) WITHIN GROUP (ORDER BY abs(d1)) AS spread
    FROM insample GROUP BY key
), tail AS MATERIALIZED (
    SELECT num.key, num.i, num.y FROM num JOIN ser s ON s.key = num.key
    WHERE num.i > s.first_origin AND num.i <= s.n - $2
), states AS MATERIALIZED (
    SELECT num.key, s.first_origin AS origin,
           @extschema@.lstm_state_agg($1, num.y ORDER BY num.i) AS st
    FROM num JOIN ser s ON s.key = num.key
    WHERE num.i <= s.first_origin AND s.first_origin >= 2
    GROUP BY num.key, s.first_origin
    UNION ALL
    SELECT w.key, tail.i, @extschema@.lstm_step($1, w.st, tail.y)
    FROM states w JOIN tail ON tail.key = w.key AND tail.i = w.origin + 1
), fc AS MATERIALIZED (
    SELECT st.key, st.origin, iv.step, iv.forecast, iv.lower, iv.upper
    FROM states st, unnest(@extschema@.lstm_predict_interval($1, st.st, $2, $4)) iv
), vals AS MATERIALIZED (
    SELECT key, array_agg(y ORDER BY i) AS ys FROM num GROUP BY key
), pts AS (
    SELECT fc.key, fc.step, fc.forecast, fc.lower, fc.upper, v.ys[fc.origin + fc.step] AS actual,
           v.ys[fc.origin] AS last,
           v.ys[fc.origin + fc.step - $3 * ((fc.step + $3 - 1) / $3)] AS seasonal,
           sc.scale, sc.spread,
           v.ys[fc.origin] - sc.spread * sqrt(fc.step) AS naive_lower,
           v.ys[fc.origin] + sc.spread * sqrt(fc.step) AS naive_upper
    FROM fc JOIN vals v ON v.key = fc.key JOIN scales sc ON sc.key = fc.key
), terms AS (
    SELECT key,
           coalesce(200 * abs(actual - forecast) / nullif(abs(actual) + abs(forecast), 0), 0) AS sm,
           abs(actual - forecast) / nullif(scale, 0) AS ase,
           (actual - forecast) ^ 2 AS se,
           (actual >= lower AND actual <= upper)::int AS hit,
           ((upper - lower) + 2 / (1 - $4) * greatest(lower - actual, 0)
            + 2 / (1 - $4) * greatest(actual - upper, 0)) / nullif(scale, 0) AS msis,
           coalesce(200 * abs(actual - last) / nullif(abs(actual) + abs(last), 0), 0) AS n_sm,
           abs(actual - last) / nullif(scale, 0) AS n_ase,
           (actual - last) ^ 2 AS n_se,
           (actual >= naive_lower AND actual <= naive_upper)::int AS n_hit,
           ((naive_upper - naive_lower) + 2 / (1 - $4) * greatest(naive_lower - actual, 0)
            + 2 / (1 - $4) * greatest(actual - naive_upper, 0)) / nullif(scale, 0) AS n_msis,
           coalesce(200 * abs(actual - seasonal) / nullif(abs(actual) + abs(seasonal), 0),
                    CASE WHEN seasonal IS NOT NULL THEN 0 END) AS s_sm,
           abs(actual - seasonal) / nullif(scale, 0) AS s_ase,
           (actual - seasonal) ^ 2 AS s_se
    FROM pts
), per AS (
    SELECT key, count(*) AS n, avg(sm) AS sm, avg(ase) AS ase, sqrt(avg(se)) AS rmse,
           avg(hit) AS cov, avg(msis) AS msis, avg(n_sm) AS n_sm, avg(n_ase) AS n_ase,
           sqrt(avg(n_se)) AS n_rmse, avg(n_hit) AS n_cov, avg(n_msis) AS n_msis,
           avg(s_sm) AS s_sm, avg(s_ase) AS s_ase, sqrt(avg(s_se)) AS s_rmse
    FROM terms GROUP BY key
)
SELECT * FROM (
    SELECT key, n, sm, ase, rmse, cov::float8, msis, n_sm, n_ase, n_rmse, n_cov::float8, n_msis,
           s_sm, s_ase, s_rmse
    FROM per
    UNION ALL
    SELECT NULL, sum(n)::bigint, avg(sm), avg(ase), avg(rmse), avg(cov)::float8, avg(msis),
           avg(n_sm), avg(n_ase), avg(n_rmse), avg(n_cov)::float8, avg(n_msis), avg(s_sm),
           avg(s_ase), avg(s_rmse)
    FROM per HAVING count(*) > 0) r
ORDER BY key IS NULL, key
$q$,
        CASE WHEN series IS NULL THEN $k$''::pg_catalog.text$k$
             ELSE format('(%I)::pg_catalog.text', series) END,
        time_column, value, source, value, time_column,
        CASE WHEN series IS NULL THEN '' ELSE format('AND %I IS NOT NULL', series) END)
    USING model, steps, season, level, origins;
END
$$;
COMMENT ON FUNCTION lstm_evaluate(text, regclass, text, text, text, int, int, float8, int) IS
    'Backtest a calibrated model on a table: per series and overall (series NULL) sMAPE, MASE, '
    'RMSE, interval coverage and MSIS at level over the last origins forecast origins, next to '
    'the naive and seasonal naive forecasts';
