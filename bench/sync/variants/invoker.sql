-- SECURITY INVOKER (keeps SET search_path): the writing role then needs
-- INSERT on sync_fdw_src.changes and USAGE on change_seq.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'sync_fdw_src'::regnamespace
                                      AND prorettype = 'trigger'::regtype LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY INVOKER', f);
    END LOOP;
END $$;
