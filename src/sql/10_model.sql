-- ---------------------------------------------------------------------------
-- The lstm_model type: an nn.LSTM + nn.Linear head, PyTorch's layout.
-- Text form: JSON with PyTorch state_dict names. Binary form for COPY BINARY.
-- ---------------------------------------------------------------------------

CREATE TYPE lstm_model;

CREATE FUNCTION lstm_model_in(cstring) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_out(lstm_model) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_recv(internal) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_send(lstm_model) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE lstm_model (
    INPUT = lstm_model_in,
    OUTPUT = lstm_model_out,
    RECEIVE = lstm_model_recv,
    SEND = lstm_model_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE lstm_model IS
    'A trained LSTM (PyTorch nn.LSTM + nn.Linear head, float32) with input and output scaling';

CREATE FUNCTION lstm_model_to_jsonb(lstm_model) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lstm_model_from_jsonb(jsonb) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (lstm_model AS jsonb) WITH FUNCTION lstm_model_to_jsonb(lstm_model);
CREATE CAST (jsonb AS lstm_model) WITH FUNCTION lstm_model_from_jsonb(jsonb);
COMMENT ON FUNCTION lstm_model_to_jsonb(lstm_model) IS
    'The model as JSON with PyTorch state_dict names (the lstm_model -> jsonb cast)';
COMMENT ON FUNCTION lstm_model_from_jsonb(jsonb) IS
    'A model from JSON with PyTorch state_dict names (the jsonb -> lstm_model cast)';

CREATE FUNCTION lstm_model_info(lstm_model) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_model_info(lstm_model) IS
    'Sizes, parameter count, byte size and content fingerprint of a model';
