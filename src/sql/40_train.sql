-- ---------------------------------------------------------------------------
-- lstm_train: train a model from a table of series and store it in
-- lstm_models (stateful truncated BPTT, Adam, early stopping; see README).
-- ---------------------------------------------------------------------------

CREATE FUNCTION lstm_train(
    name text,
    source regclass,
    value text,
    time_column text DEFAULT NULL,
    series text DEFAULT NULL,
    features text[] DEFAULT NULL,
    hidden int DEFAULT 32,
    layers int DEFAULT 1,
    bptt int DEFAULT 32,
    batch_size int DEFAULT 32,
    epochs int DEFAULT 100,
    learning_rate float8 DEFAULT 0.01,
    clip float8 DEFAULT 1.0,
    validation float8 DEFAULT 0.2,
    patience int DEFAULT 10,
    seed bigint DEFAULT 0,
    difference boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'lstm_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION lstm_train(text, regclass, text, text, text, text[], int, int, int, int, int,
                               float8, float8, float8, int, bigint, boolean) IS
    'Train an LSTM forecaster on the series in source (value ordered by time_column, split by '
    'series, with optional feature columns; or one float8[] sequence per row) and store it in '
    'lstm_models under name; returns the training report';
