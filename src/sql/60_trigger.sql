-- ---------------------------------------------------------------------------
-- Streaming: lstm_score_trigger scores rows as they are inserted, keeping each
-- series' lstm_state in lstm_stream_states (one row per model, scored table and
-- series).
-- ---------------------------------------------------------------------------

CREATE TABLE lstm_stream_states (
    model_name text NOT NULL,
    series text NOT NULL,
    state lstm_state NOT NULL,
    last_time bytea,
    last_time_type regtype,
    late_rows bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    source regclass NOT NULL,
    PRIMARY KEY (model_name, source, series)
)
-- The trigger updates one row per series per statement (HOT updates): pages
-- filled to half leave room for several new versions between prunings.
WITH (fillfactor = 50);
COMMENT ON TABLE lstm_stream_states IS
    'Saved state of every series scored by lstm_score_trigger: the lstm_state, the newest time '
    'applied (binary form of the time column''s type), and the count of late rows left unscored';
COMMENT ON COLUMN lstm_stream_states.model_name IS
    'The model''s name in lstm_models, with no foreign key (lstm_models can be a Citus reference '
    'table): a renamed or deleted model leaves its states under the old name until '
    'lstm_stream_reset removes them; a different model stored under that name restarts them, '
    'with a WARNING, at their next row';
COMMENT ON COLUMN lstm_stream_states.series IS
    'The series column''s value as lstm_series_key() gives it (the same in every session); '
    ''''' for a single series';
COMMENT ON COLUMN lstm_stream_states.last_time IS
    'Newest time applied to the state, in the binary (send) form of last_time_type; NULL when '
    'the trigger has no time column';
COMMENT ON COLUMN lstm_stream_states.source IS
    'The scored table (the root of a partitioned or inherited table): states belong to it';
SELECT pg_catalog.pg_extension_config_dump('lstm_stream_states', '');

-- Row-level security, created with the extension (pg_dump/restore and ALTER
-- EXTENSION UPDATE keep it): a saved state belongs to the table it scores.
-- Reading one needs SELECT or INSERT on that table; creating, changing or
-- deleting one needs INSERT on it (the right to feed the series). A state
-- whose table no longer exists is visible to the table's owner and
-- superusers only.
ALTER TABLE lstm_stream_states ENABLE ROW LEVEL SECURITY;
CREATE POLICY lstm_stream_states_read ON lstm_stream_states FOR SELECT
    USING (pg_catalog.has_table_privilege(source, 'SELECT')
           OR pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_create ON lstm_stream_states FOR INSERT
    WITH CHECK (pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_change ON lstm_stream_states FOR UPDATE
    USING (pg_catalog.has_table_privilege(source, 'INSERT'))
    WITH CHECK (pg_catalog.has_table_privilege(source, 'INSERT'));
CREATE POLICY lstm_stream_states_delete ON lstm_stream_states FOR DELETE
    USING (pg_catalog.has_table_privilege(source, 'INSERT'));

-- The series key: what lstm_stream_states.series holds for a series value.
CREATE FUNCTION lstm_series_key(value anyelement) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_series_key(anyelement) IS
    'The text under which lstm_stream_states keeps the state of a series value: the same in '
    'every session (floats shortest-exact, dates ISO, timestamptz in UTC, intervals postgres '
    'style, bytea hex; other types their output)';

CREATE FUNCTION lstm_score_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION lstm_score_trigger() IS
    'BEFORE INSERT FOR EACH ROW trigger; arguments: model name, value column, series column or '
    'NULL, forecast column or NULL, score column or NULL[, time column or NULL[, anomaly settings '
    '(JSON) or NULL[, alert column]]]. Fills the forecast made before the row, its anomaly score '
    'and alert, then advances the series'' saved state';

-- Forget saved states: every series of a model, or one series, of every
-- scored table (or of one: source); row-level security limits it to the
-- tables the caller may insert into.
CREATE FUNCTION lstm_stream_reset(model text, series text DEFAULT NULL,
                                  source regclass DEFAULT NULL) RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
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
COMMENT ON FUNCTION lstm_stream_reset(text, text, regclass) IS
    'Delete the saved streaming states of a model (all series, or one; of every scored table, '
    'or of one); returns how many';

-- Recompute saved states from a table's history, in time order: what the
-- trigger would have saved had every row arrived in order. Only the states of
-- the series recomputed are replaced, so a rebuild of part of a table (a
-- partition, a Citus shard) keeps the others. Takes a SHARE lock on the table
-- so that no insert is scored against a state being replaced
-- (src/features/stream_rebuild.c).
CREATE FUNCTION lstm_stream_rebuild(model text, source regclass, value_column text,
                                    series_column text, time_column text,
                                    series text DEFAULT NULL, settings jsonb DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION lstm_stream_rebuild(text, regclass, text, text, text, text, jsonb) IS
    'Recompute the saved streaming states of a model from a table''s rows in time order, as '
    'lstm_score_trigger would have saved them (with its anomaly settings), replacing the states of '
    'the series recomputed (all in the rows, or one) and no other; returns the number of series';
