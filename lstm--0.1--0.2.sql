-- lstm 0.1 -> 0.2 upgrade script (ALTER EXTENSION lstm UPDATE TO '0.2').

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION lstm UPDATE TO '0.2'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- lstm_models: owners and sharing, enforced by row-level security.
-- Models stored before 0.2 belong to the role that runs the update (the
-- extension's owner); UPDATE lstm_models SET owner = ... hands them over.
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.lstm_models
    ALTER COLUMN created_at SET DEFAULT pg_catalog.now(),
    ADD COLUMN owner regrole NOT NULL
        DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
    ADD COLUMN shared_with regrole[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN @extschema@.lstm_models.owner IS
    'The role the model belongs to (the creating role by default): only members of it may '
    'replace, rename, share or delete the model';
COMMENT ON COLUMN @extschema@.lstm_models.shared_with IS
    'Roles the owner lets use (and read) the model besides its own members; ''-'' (0) means '
    'every role. Managed with lstm_model_share and lstm_model_unshare';

CREATE FUNCTION @extschema@.lstm_model_visible(owner regrole, shared_with regrole[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.pg_has_role(owner, 'USAGE')
        OR EXISTS (SELECT FROM pg_catalog.unnest(shared_with) AS r (role)
                   WHERE r.role OPERATOR(pg_catalog.=) 0::pg_catalog.regrole
                      OR pg_catalog.pg_has_role(r.role, 'USAGE'))
$$;
COMMENT ON FUNCTION @extschema@.lstm_model_visible(regrole, regrole[]) IS
    'The row-level security rule of lstm_models: may the current role use this model';
ALTER TABLE @extschema@.lstm_models ENABLE ROW LEVEL SECURITY;
CREATE POLICY lstm_models_use ON @extschema@.lstm_models FOR SELECT
    USING (@extschema@.lstm_model_visible(owner, shared_with));
CREATE POLICY lstm_models_create ON @extschema@.lstm_models FOR INSERT
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_change ON @extschema@.lstm_models FOR UPDATE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY lstm_models_delete ON @extschema@.lstm_models FOR DELETE
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));

CREATE OR REPLACE FUNCTION @extschema@.lstm_models_fill_info() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.info := COALESCE(NEW.info, '{}'::pg_catalog.jsonb)
                OPERATOR(pg_catalog.||) @extschema@.lstm_model_info(NEW.model);
    RETURN NEW;
END
$$;
-- Share a model with a role (or with every role: 'public'), and take it back.
-- Only members of the model's owner can (the UPDATE goes through row-level
-- security); an unknown model or one the caller does not own is an error.
CREATE FUNCTION @extschema@.lstm_model_share(model text, grantee text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role regrole := CASE WHEN pg_catalog.lower(grantee) OPERATOR(pg_catalog.=) 'public'
                         THEN 0::regrole ELSE grantee::regrole END;
BEGIN
    UPDATE @extschema@.lstm_models m
       SET shared_with = pg_catalog.array_append(pg_catalog.array_remove(m.shared_with, role), role)
     WHERE m.name OPERATOR(pg_catalog.=) lstm_model_share.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist or is not owned by a role of %', model, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of a model''s owner role may share it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.lstm_model_share(text, text) IS
    'Let a role (or public) use and read a model; only the model''s owner may';
CREATE FUNCTION @extschema@.lstm_model_unshare(model text, grantee text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role regrole := CASE WHEN pg_catalog.lower(grantee) OPERATOR(pg_catalog.=) 'public'
                         THEN 0::regrole ELSE grantee::regrole END;
BEGIN
    UPDATE @extschema@.lstm_models m
       SET shared_with = pg_catalog.array_remove(m.shared_with, role)
     WHERE m.name OPERATOR(pg_catalog.=) lstm_model_unshare.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist or is not owned by a role of %', model, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only members of a model''s owner role may share it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.lstm_model_unshare(text, text) IS
    'Stop sharing a model with a role (or public); only the model''s owner may';
