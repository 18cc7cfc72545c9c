-- ---------------------------------------------------------------------------
-- Streaming: lstm_score_trigger scores rows as they are inserted, keeping each
-- series' lstm_state in lstm_stream_states (one row per model and series).
-- ---------------------------------------------------------------------------

CREATE TABLE lstm_stream_states (
    model_name text NOT NULL REFERENCES lstm_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    series text NOT NULL,
    state lstm_state NOT NULL,
    last_time bytea,
    last_time_type regtype,
    late_rows bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, series)
);
COMMENT ON TABLE lstm_stream_states IS
    'Saved state of every series scored by lstm_score_trigger: the lstm_state, the newest time '
    'applied (binary form of the time column''s type), and the count of late rows left unscored';
COMMENT ON COLUMN lstm_stream_states.series IS
    'The series column''s value as text (its output function); '''' for a single series';
COMMENT ON COLUMN lstm_stream_states.last_time IS
    'Newest time applied to the state, in the binary (send) form of last_time_type; NULL when '
    'the trigger has no time column';
SELECT pg_catalog.pg_extension_config_dump('lstm_stream_states', '');

CREATE FUNCTION lstm_score_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION lstm_score_trigger() IS
    'BEFORE INSERT FOR EACH ROW trigger; arguments: model name, value column, series column or '
    'NULL, forecast column or NULL, score column or NULL[, time column]. Fills the forecast made '
    'before the row and its anomaly score, then advances the series'' saved state';

-- Forget saved states: every series of a model, or one series.
CREATE FUNCTION lstm_stream_reset(model text, series text DEFAULT NULL) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM @extschema@.lstm_stream_states s
        WHERE s.model_name OPERATOR(pg_catalog.=) lstm_stream_reset.model
          AND (lstm_stream_reset.series IS NULL
               OR s.series OPERATOR(pg_catalog.=) lstm_stream_reset.series)
        RETURNING 1)
    SELECT pg_catalog.count(*) FROM gone
$$;
COMMENT ON FUNCTION lstm_stream_reset(text, text) IS
    'Delete the saved streaming states of a model (all series, or one); returns how many';

-- Recompute saved states from a table's history, in time order: what the
-- trigger would have saved had every row arrived in order. Takes a SHARE lock
-- on the table so that no insert is scored against a state being replaced
-- (src/features/stream_rebuild.c).
CREATE FUNCTION lstm_stream_rebuild(model text, source regclass, value_column text,
                                    series_column text, time_column text,
                                    series text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION lstm_stream_rebuild(text, regclass, text, text, text, text) IS
    'Recompute the saved streaming states of a model (all series, or one) from a table''s rows '
    'in time order, as lstm_score_trigger would have saved them; returns the number of series';
