-- Read-only access for analysts, applied by every `vault migrate` (idempotent): the role
-- vault_bi (NOLOGIN; grant it to the login a BI tool uses, docs/bi.md) may read the views of
-- schema bi and nothing else. A migration user that may not create roles (a managed
-- PostgreSQL's loader) skips the creation: create vault_bi once as an administrator, and the
-- next `vault migrate` grants it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault_bi')
       AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        BEGIN
            CREATE ROLE vault_bi NOLOGIN;
            COMMENT ON ROLE vault_bi IS 'Analysts and BI tools: SELECT on the views of schema bi, nothing else.';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            -- Roles belong to the cluster: the migration of another database of it created
            -- vault_bi between the check above and here (a CI run met it so). It is there.
            NULL;
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault_bi') THEN
        GRANT USAGE ON SCHEMA bi TO vault_bi;
        GRANT SELECT ON ALL TABLES IN SCHEMA bi TO vault_bi;
    END IF;
END
$$;
