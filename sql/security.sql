-- Security and tenancy: models belong to their owners (row-level security on lstm_models),
-- a replaced model is never used by name, and the extension's code ignores the caller's
-- search_path. Every object here is prefixed sec_; roles are regress_lstm_sec_*.
\set tiny '{"input_size": 1, "hidden_size": 2, "num_layers": 1, "output_size": 1, "weights": {"weight_ih_l0": [[0.1], [0.2], [0.3], [0.4], [0.5], [0.6], [0.7], [0.8]], "weight_hh_l0": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, 0.8], [0.9, 1.0], [-1.1, 1.2], [1.3, 1.4], [1.5, -1.6]], "bias_ih_l0": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08], "bias_hh_l0": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], "head.weight": [[1.5, -0.25]], "head.bias": [0.5]}, "input_mean": [5], "input_std": [2], "output_mean": [5], "output_std": [2]}'
\set other '{"input_size": 1, "hidden_size": 1, "num_layers": 1, "output_size": 1, "weights": {"weight_ih_l0": [[0.5], [0.25], [-0.5], [1.0]], "weight_hh_l0": [[0.1], [0.2], [0.3], [0.4]], "bias_ih_l0": [0, 0, 0, 0], "bias_hh_l0": [0, 0, 0, 0], "head.weight": [[2.0]], "head.bias": [1.0]}}'

CREATE ROLE regress_lstm_sec_alice;
CREATE ROLE regress_lstm_sec_bob;
CREATE ROLE regress_lstm_sec_team;
GRANT regress_lstm_sec_team TO regress_lstm_sec_alice;
-- The README's grants: scoring and training roles get table privileges; rows stay private.
GRANT SELECT, INSERT, UPDATE, DELETE ON lstm_models TO regress_lstm_sec_alice, regress_lstm_sec_bob;

-- ---- Models belong to the role that stores them ----
SET ROLE regress_lstm_sec_alice;
INSERT INTO lstm_models (name, model) VALUES ('sec_alice', :'tiny');
INSERT INTO lstm_models (name, model, owner) VALUES ('sec_team', :'tiny', 'regress_lstm_sec_team');
SELECT name, owner, shared_with FROM lstm_models WHERE name LIKE 'sec\_%' ORDER BY name;
SELECT round(lstm_forecast('sec_alice', v ORDER BY t)::numeric, 6) AS alice_forecast
FROM (VALUES (1, 4.0), (2, 5.0)) AS s (t, v);

-- Another role sees nothing: no row, no weights, no use by name.
SET ROLE regress_lstm_sec_bob;
SELECT count(*) AS bob_sees FROM lstm_models WHERE name LIKE 'sec\_%';
SELECT lstm_model_by_name('sec_alice');
SELECT lstm_forecast('sec_alice', v ORDER BY t) FROM (VALUES (1, 4.0)) AS s (t, v);
-- ... and cannot overwrite, rename or delete it (the attack: replace a model by name).
UPDATE lstm_models SET model = :'other' WHERE name = 'sec_alice';
UPDATE lstm_models SET name = 'sec_stolen' WHERE name = 'sec_alice';
DELETE FROM lstm_models WHERE name = 'sec_alice';
\set VERBOSITY sqlstate
INSERT INTO lstm_models (name, model) VALUES ('sec_alice', :'other')
    ON CONFLICT (name) DO UPDATE SET model = EXCLUDED.model;
-- A row owned by someone else cannot be planted either.
INSERT INTO lstm_models (name, model, owner) VALUES ('sec_planted', :'other', 'regress_lstm_sec_alice');
\set VERBOSITY default
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_bob');

-- The owner shares a model: bob may use and read it, still not change it.
SET ROLE regress_lstm_sec_alice;
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_bob');
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_bob');  -- idempotent
SELECT name, shared_with FROM lstm_models WHERE name = 'sec_alice';
SET ROLE regress_lstm_sec_bob;
SELECT round(lstm_forecast('sec_alice', v ORDER BY t)::numeric, 6) AS bob_forecast
FROM (VALUES (1, 4.0), (2, 5.0)) AS s (t, v);
UPDATE lstm_models SET model = :'other' WHERE name = 'sec_alice';
SELECT lstm_model_unshare('sec_alice', 'regress_lstm_sec_bob');
-- Shared with every role, then taken back.
SET ROLE regress_lstm_sec_alice;
SELECT lstm_model_share('sec_alice', 'public');
SELECT lstm_model_unshare('sec_alice', 'regress_lstm_sec_bob');
SET ROLE regress_lstm_sec_bob;
SELECT count(*) AS bob_sees_public FROM lstm_models WHERE name = 'sec_alice';
SET ROLE regress_lstm_sec_alice;
SELECT lstm_model_unshare('sec_alice', 'PUBLIC');
SELECT lstm_model_share('sec_alice', 'regress_lstm_sec_nobody');
SET ROLE regress_lstm_sec_bob;
SELECT count(*) AS bob_sees_after_unshare FROM lstm_models WHERE name = 'sec_alice';
RESET ROLE;

-- ---- lstm_train cannot replace another role's model, and fails before training ----
CREATE TABLE sec_series AS SELECT t, sin(t / 3.0) AS v FROM generate_series(1, 40) AS t;
GRANT SELECT ON sec_series TO regress_lstm_sec_bob;
SET client_min_messages = warning;
SET ROLE regress_lstm_sec_bob;
SELECT lstm_train('sec_alice', 'sec_series', 'v', time_column => 't', epochs => 1);
SELECT lstm_train('sec_bob', 'sec_series', 'v', time_column => 't', epochs => 1) ->> 'model';
SELECT lstm_train('sec_bob', 'sec_series', 'v', time_column => 't', epochs => 2) ->> 'epochs_run';
SELECT name, owner FROM lstm_models WHERE name LIKE 'sec\_%' ORDER BY name;
RESET ROLE;
RESET client_min_messages;
DROP TABLE sec_series;

-- ---- A replaced model is never used by name (same call site, one transaction) ----
INSERT INTO lstm_models (name, model) VALUES ('sec_swap', :'tiny'), ('sec_swap_other', :'other');
CREATE FUNCTION sec_fingerprints() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    s lstm_state;
BEGIN
    FOR i IN 1..2 LOOP
        IF i = 2 THEN
            UPDATE lstm_models SET model = (SELECT model FROM lstm_models
                                            WHERE name = 'sec_swap_other')
            WHERE name = 'sec_swap';
        END IF;
        s := lstm_step('sec_swap', NULL::lstm_state, 1.0);  -- one call site, run twice
        RETURN NEXT CASE lstm_state_info(s) ->> 'model_fingerprint'
            WHEN (SELECT info ->> 'fingerprint' FROM lstm_models WHERE name = 'sec_swap')
            THEN 'step ' || i || ': the stored model' ELSE 'step ' || i || ': a stale model' END;
    END LOOP;
END
$$;
SELECT * FROM sec_fingerprints();
DROP FUNCTION sec_fingerprints();

-- ---- Long horizons stop at statement_timeout (hidden 256, 4 layers, 100,000 steps) ----
CREATE TABLE sec_big AS
SELECT (pg_catalog.jsonb_build_object(
    'input_size', 1, 'hidden_size', 256, 'num_layers', 4, 'output_size', 1,
    'weights', (SELECT pg_catalog.jsonb_object_agg(k, v) FROM (
        SELECT 'weight_ih_l' || l AS k,
               to_jsonb(array_fill(0.01::float4, ARRAY[1024, CASE WHEN l = 0 THEN 1 ELSE 256 END])) AS v
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'weight_hh_l' || l, to_jsonb(array_fill(0.01::float4, ARRAY[1024, 256]))
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'bias_ih_l' || l, to_jsonb(array_fill(0::float4, ARRAY[1024]))
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'bias_hh_l' || l, to_jsonb(array_fill(0::float4, ARRAY[1024]))
        FROM generate_series(0, 3) AS l
        UNION ALL SELECT 'head.weight', to_jsonb(array_fill(0.01::float4, ARRAY[1, 256]))
        UNION ALL SELECT 'head.bias', to_jsonb(ARRAY[0::float4])) AS w)))::lstm_model AS m;
SELECT lstm_model_info(m) ->> 'parameters' AS parameters FROM sec_big;
SET statement_timeout = '1s';
SELECT lstm_predict(m, lstm_step(m, NULL::lstm_state, 1.0), 100000) FROM sec_big;
SELECT lstm_forecast(m, v, 100000 ORDER BY t) FROM sec_big, (VALUES (1, 1.0)) AS s (t, v);
RESET statement_timeout;
DROP TABLE sec_big;

-- ---- Clean up ----
DELETE FROM lstm_models WHERE name LIKE 'sec\_%';
REVOKE ALL ON lstm_models FROM regress_lstm_sec_alice, regress_lstm_sec_bob;
DROP ROLE regress_lstm_sec_alice;
DROP ROLE regress_lstm_sec_bob;
DROP ROLE regress_lstm_sec_team;
