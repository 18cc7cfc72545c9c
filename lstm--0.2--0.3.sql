-- lstm 0.2 -> 0.3 upgrade script (ALTER EXTENSION lstm UPDATE TO '0.3').

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION lstm UPDATE TO '0.3'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- lstm_models without a trigger, and lstm_stream_states without a foreign key
-- to it, so that lstm_models can be a Citus reference table.
-- ---------------------------------------------------------------------------

-- The writer's keys move from info to the new column notes: info less every
-- key the model gives (lstm_model_info(model), and "calibrated", which a
-- replaced calibrated model may have left behind). info is then generated from
-- notes and the model, so it reads as before.
DROP TRIGGER lstm_models_fill_info ON @extschema@.lstm_models;
DROP FUNCTION @extschema@.lstm_models_fill_info();
ALTER TABLE @extschema@.lstm_models
    ADD COLUMN notes jsonb NOT NULL DEFAULT '{}'
        CHECK (pg_catalog.jsonb_typeof(notes) OPERATOR(pg_catalog.=) 'object');
UPDATE @extschema@.lstm_models
   SET notes = CASE WHEN pg_catalog.jsonb_typeof(info) OPERATOR(pg_catalog.=) 'object'
                    THEN info OPERATOR(pg_catalog.-)
                         (ARRAY(SELECT pg_catalog.jsonb_object_keys(
                                           @extschema@.lstm_model_info(model)))
                          OPERATOR(pg_catalog.||) '{calibrated}'::text[])
                    ELSE '{}' END;
ALTER TABLE @extschema@.lstm_models
    DROP COLUMN info,
    ADD COLUMN info jsonb NOT NULL GENERATED ALWAYS AS
        (notes OPERATOR(pg_catalog.||) @extschema@.lstm_model_info(model)) STORED;
COMMENT ON TABLE @extschema@.lstm_models IS
    'Trained LSTM models by name; info holds the writer''s notes and the model''s sizes and '
    'fingerprint';
COMMENT ON COLUMN @extschema@.lstm_models.notes IS
    'The writer''s keys: lstm_train''s report and hyperparameters, or a note of one''s own (a JSON '
    'object); info shows them with the model''s own keys';
COMMENT ON COLUMN @extschema@.lstm_models.info IS
    'Generated from notes and the model: notes || lstm_model_info(model) (the model''s sizes, '
    'parameter count and fingerprint win over a note of the same key); read-only';

-- Saved states stay under a model's name when the model is renamed or deleted
-- (lstm_stream_reset removes them); the trigger restarts a state whose model
-- changed under its name (fingerprint check).
ALTER TABLE @extschema@.lstm_stream_states DROP CONSTRAINT lstm_stream_states_model_name_fkey;
COMMENT ON COLUMN @extschema@.lstm_stream_states.model_name IS
    'The model''s name in lstm_models, with no foreign key (lstm_models can be a Citus reference '
    'table): a renamed or deleted model leaves its states under the old name until '
    'lstm_stream_reset removes them; a different model stored under that name restarts them, '
    'with a WARNING, at their next row';

-- lstm_stream_rebuild replaces only the states of the series it recomputes.
COMMENT ON FUNCTION @extschema@.lstm_stream_rebuild(text, regclass, text, text, text, text, jsonb) IS
    'Recompute the saved streaming states of a model from a table''s rows in time order, as '
    'lstm_score_trigger would have saved them (with its anomaly settings), replacing the states of '
    'the series recomputed (all in the rows, or one) and no other; returns the number of series';
