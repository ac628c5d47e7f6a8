-- SET search_path = pg_catalog, pg_temp added back to the (SECURITY
-- DEFINER) trigger functions, as capture.sql had it before capture.triggers.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'sync_fdw_src'::regnamespace
                                      AND prorettype = 'trigger'::regtype LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END $$;
