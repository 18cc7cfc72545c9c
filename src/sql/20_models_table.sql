-- ---------------------------------------------------------------------------
-- lstm_models: trained models stored as rows, kept by pg_dump.
-- ---------------------------------------------------------------------------

CREATE TABLE lstm_models (
    name text PRIMARY KEY,
    model lstm_model NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    info jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE lstm_models IS
    'Trained LSTM models by name; info holds the model''s sizes and fingerprint (kept up to date '
    'by a trigger) plus anything the writer adds, such as a training report';
SELECT pg_catalog.pg_extension_config_dump('lstm_models', '');

-- Keep info's size and fingerprint fields in step with the model; other keys
-- (training hyperparameters and report) are the writer's.
CREATE FUNCTION lstm_models_fill_info() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.info := coalesce(NEW.info, '{}'::jsonb) || @extschema@.lstm_model_info(NEW.model);
    RETURN NEW;
END
$$;
CREATE TRIGGER lstm_models_fill_info BEFORE INSERT OR UPDATE OF model, info ON lstm_models
    FOR EACH ROW EXECUTE FUNCTION lstm_models_fill_info();

CREATE FUNCTION lstm_model_by_name(name text) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_model_by_name(text) IS 'The model stored under this name in lstm_models';
