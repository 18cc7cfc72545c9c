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
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM @extschema@.lstm_stream_states s
        WHERE s.model_name = lstm_stream_reset.model
          AND (lstm_stream_reset.series IS NULL OR s.series = lstm_stream_reset.series)
        RETURNING 1)
    SELECT count(*) FROM gone
$$;
COMMENT ON FUNCTION lstm_stream_reset(text, text) IS
    'Delete the saved streaming states of a model (all series, or one); returns how many';

-- Recompute saved states from a table's history, in time order: what the
-- trigger would have saved had every row arrived in order. Takes a SHARE lock
-- on the table so that no insert is scored against a state being replaced.
CREATE FUNCTION lstm_stream_rebuild(model text, source regclass, value_column text,
                                    series_column text, time_column text,
                                    series text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    value_type oid;
    time_type oid;
    time_send regproc;
    value_expr text;
    series_expr text;
    series_filter text := 'true';
    rebuilt bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.lstm_models m
                   WHERE m.name = lstm_stream_rebuild.model) THEN
        RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
    END IF;
    SELECT a.atttypid INTO value_type FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = value_column AND a.attnum > 0
      AND NOT a.attisdropped;
    IF value_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', value_column, source
            USING ERRCODE = 'undefined_column';
    END IF;
    IF time_column IS NULL THEN
        RAISE EXCEPTION 'lstm_stream_rebuild needs a time column' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Each series is rebuilt from its rows in the order of the time column.';
    END IF;
    SELECT a.atttypid, t.typsend INTO time_type, time_send
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = source AND a.attname = time_column AND a.attnum > 0
      AND NOT a.attisdropped;
    IF time_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', time_column, source
            USING ERRCODE = 'undefined_column';
    END IF;
    IF coalesce(series_column, '') = '' OR lower(series_column) = 'null' THEN
        series_expr := '''''';
    ELSE
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = source AND a.attname = series_column
                         AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" of relation % does not exist', series_column, source
                USING ERRCODE = 'undefined_column';
        END IF;
        -- The trigger's series key: the column's output function, as format('%s') gives it.
        series_expr := format('pg_catalog.format(''%%s'', %I)', series_column);
        series_filter := format('%I IS NOT NULL', series_column);
    END IF;
    value_expr := format(CASE WHEN pg_catalog.format_type(value_type, NULL) LIKE '%[]'
                              THEN '%I::float8[]' ELSE '%I::float8' END, value_column);

    EXECUTE format('LOCK TABLE %s IN SHARE MODE', source);
    DELETE FROM @extschema@.lstm_stream_states s
    WHERE s.model_name = lstm_stream_rebuild.model AND (lstm_stream_rebuild.series IS NULL
                                    OR s.series = lstm_stream_rebuild.series);
    EXECUTE format(
        'INSERT INTO @extschema@.lstm_stream_states '
        '    (model_name, series, state, last_time, last_time_type, late_rows, updated_at) '
        'SELECT $1, key, state, last_time, $2, 0, now() FROM ('
        '    SELECT %1$s AS key, @extschema@.lstm_state_agg($1, %2$s ORDER BY %3$I) AS state, '
        '           %4$s(max(%3$I) FILTER (WHERE %2$s IS NOT NULL)) AS last_time '
        '    FROM %5$s WHERE %3$I IS NOT NULL AND %6$s '
        '      AND ($3::text IS NULL OR %1$s = $3) '
        '    GROUP BY 1) q '
        'WHERE state IS NOT NULL',
        series_expr, value_expr, time_column, time_send, source, series_filter)
    USING model, time_type::regtype, series;
    GET DIAGNOSTICS rebuilt = ROW_COUNT;
    RETURN rebuilt;
END
$$;
COMMENT ON FUNCTION lstm_stream_rebuild(text, regclass, text, text, text, text) IS
    'Recompute the saved streaming states of a model (all series, or one) from a table''s rows '
    'in time order, as lstm_score_trigger would have saved them; returns the number of series';
