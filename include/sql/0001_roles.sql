-- Supabase's API roles. Supabase has them already; on plain PostgreSQL this creates them (no login), so every
-- later migration applies unchanged to both. Convention for every table the later migrations create: row-level
-- security is enabled in the migration that creates it and no policy is granted, so anon and authenticated
-- read nothing through Supabase's APIs; the table owner and service_role (BYPASSRLS) see everything.
DO $$
DECLARE
    api_role text;
    is_superuser boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = api_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', api_role);
                IF api_role = 'service_role' AND is_superuser THEN
                    ALTER ROLE service_role BYPASSRLS;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database in the same cluster
            END;
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO service_role;
