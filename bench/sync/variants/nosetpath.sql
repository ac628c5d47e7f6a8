-- No SET search_path on the (still SECURITY DEFINER) trigger functions.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'sync_fdw_src'::regnamespace
                                      AND prorettype = 'trigger'::regtype LOOP
        EXECUTE format('ALTER FUNCTION %s RESET ALL', f);
    END LOOP;
END $$;
