-- ---------------------------------------------------------------------------
-- lstm_models: trained models stored as rows, kept by pg_dump.
-- ---------------------------------------------------------------------------

CREATE TABLE lstm_models (
    name text PRIMARY KEY,
    model lstm_model NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    notes jsonb NOT NULL DEFAULT '{}'
        CHECK (pg_catalog.jsonb_typeof(notes) OPERATOR(pg_catalog.=) 'object'),
    info jsonb NOT NULL GENERATED ALWAYS AS
        (notes OPERATOR(pg_catalog.||) @extschema@.lstm_model_info(model)) STORED,
    owner regrole NOT NULL DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
    shared_with regrole[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE lstm_models IS
    'Trained LSTM models by name; info holds the writer''s notes and the model''s sizes and '
    'fingerprint';
COMMENT ON COLUMN lstm_models.notes IS
    'The writer''s keys: lstm_train''s report and hyperparameters, or a note of one''s own (a JSON '
    'object); info shows them with the model''s own keys';
COMMENT ON COLUMN lstm_models.info IS
    'Generated from notes and the model: notes || lstm_model_info(model) (the model''s sizes, '
    'parameter count and fingerprint win over a note of the same key); read-only';
COMMENT ON COLUMN lstm_models.owner IS
    'The role the model belongs to (the creating role by default): only members of it may '
    'replace, rename, share or delete the model';
COMMENT ON COLUMN lstm_models.shared_with IS
    'Roles the owner lets use (and read) the model besides its own members; ''-'' (0) means '
    'every role. Managed with lstm_model_share and lstm_model_unshare';
SELECT pg_catalog.pg_extension_config_dump('lstm_models', '');

-- Row-level security, created with the extension so that pg_dump/restore and
-- ALTER EXTENSION UPDATE keep it: a model is visible (usable by name, its
-- weights readable) to members of its owner and to the roles it is shared
-- with; only members of its owner may change or delete it, and a new row must
-- be owned by a role the writer is a member of. The table's owner and
-- superusers bypass it, as PostgreSQL does.
CREATE FUNCTION lstm_model_visible(owner regrole, shared_with regrole[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.pg_has_role(owner, 'USAGE')
        OR EXISTS (SELECT FROM pg_catalog.unnest(shared_with) AS r (role)
                   WHERE r.role OPERATOR(pg_catalog.=) 0::pg_catalog.regrole
                      OR pg_catalog.pg_has_role(r.role, 'USAGE'))
$$;
COMMENT ON FUNCTION lstm_model_visible(regrole, regrole[]) IS
    'The row-level security rule of lstm_models: may the current role use this model';
ALTER TABLE lstm_models ENABLE ROW LEVEL SECURITY;
CREATE POLICY lstm_models_use ON lstm_models FOR SELECT
    USING (@extschema@.lstm_model_visible(owner, shared_with));
CREATE POLICY lstm_models_create ON lstm_models FOR INSERT
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_change ON lstm_models FOR UPDATE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_delete ON lstm_models FOR DELETE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));

CREATE FUNCTION lstm_model_by_name(name text) RETURNS lstm_model
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lstm_model_by_name(text) IS 'The model stored under this name in lstm_models';

-- Share a model with a role (or with every role: 'public'), and take it back.
-- Only members of the model's owner can (the UPDATE goes through row-level
-- security); an unknown model or one the caller does not own is an error.
CREATE FUNCTION lstm_model_set_sharing(model text, grantee text, share boolean) RETURNS void
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
COMMENT ON FUNCTION lstm_model_set_sharing(text, text, boolean) IS
    'The rule behind lstm_model_share and lstm_model_unshare';
CREATE FUNCTION lstm_model_share(model text, grantee text) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.lstm_model_set_sharing(model, grantee, true) $$;
COMMENT ON FUNCTION lstm_model_share(text, text) IS
    'Let a role (or public) use and read a model; only the model''s owner may';
CREATE FUNCTION lstm_model_unshare(model text, grantee text) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.lstm_model_set_sharing(model, grantee, false) $$;
COMMENT ON FUNCTION lstm_model_unshare(text, text) IS
    'Stop sharing a model with a role (or public); only the model''s owner may';
