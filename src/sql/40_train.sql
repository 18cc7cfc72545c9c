-- ---------------------------------------------------------------------------
-- lstm_train: train a model from a table of series and store it in
-- lstm_models (stateful truncated BPTT, Adam, early stopping; see README).
-- batch_size, epochs, learning_rate and patience: NULL takes the default of
-- the scaling (global: 32, 100, 0.01, 10; series: 64, 30 (100 for one
-- series), 0.003, 6 (10 for one series)); so do members (1; 3) and loss
-- ('mse'; 'l1'). scaling NULL: 'series' when season or horizon is given.
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

COMMENT ON FUNCTION lstm_train(text, regclass, text, text, text, text[], int, int, int, int, int,
                               float8, float8, float8, int, bigint, boolean, int, int, text, text,
                               int, text) IS
    'Train an LSTM forecaster on the series in source (value ordered by time_column, split by '
    'series, with optional feature columns; or one float8[] sequence per row) and store it in '
    'lstm_models under name; returns the training report. With season or horizon (or scaling '
    '=> ''series'') every series is normalised by its own streaming statistics and the model '
    'forecasts horizon steps at once (members trained one after the other, median forecast)';
