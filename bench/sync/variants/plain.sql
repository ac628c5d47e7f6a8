-- Neither SECURITY DEFINER nor SET search_path: a plain function call.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'sync_fdw_src'::regnamespace
                                      AND prorettype = 'trigger'::regtype LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY INVOKER RESET ALL', f);
    END LOOP;
END $$;
