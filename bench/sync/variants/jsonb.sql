-- Row images as jsonb (to_jsonb(row)) instead of text (row output).  The
-- applier casts img to the row type, so it cannot apply these: capture only.
ALTER TABLE sync_fdw_src.changes ALTER COLUMN img TYPE jsonb USING img::jsonb,
                                 ALTER COLUMN old TYPE jsonb USING old::jsonb;
DO $$
DECLARE f oid; def text;
BEGIN
    FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'sync_fdw_src'::regnamespace
                                      AND prorettype = 'trigger'::regtype LOOP
        def := pg_get_functiondef(f);
        def := replace(def, 'n::text', 'to_jsonb(n)');
        def := replace(def, 'o::text', 'to_jsonb(o)');
        def := replace(def, 'NEW::text', 'to_jsonb(NEW)');
        def := replace(def, 'OLD::text', 'to_jsonb(OLD)');
        def := regexp_replace(def, 'pg_catalog\.textin\(pg_catalog\.record_out\((\w+)\)\)',
                              'pg_catalog.to_jsonb(\1)', 'g');
        EXECUTE def;
    END LOOP;
END $$;
