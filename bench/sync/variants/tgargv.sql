-- Shared capture functions taking the table's number as the trigger's
-- argument (TG_ARGV[0]::pg_catalog.int2), as capture.sql had them before the
-- per-table functions; row-level, SECURITY DEFINER, no SET search_path.
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_insert_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img)
    VALUES (TG_ARGV[0]::pg_catalog.int2, 'I', pg_catalog.textin(pg_catalog.record_out(NEW)));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_update_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img, old)
    VALUES (TG_ARGV[0]::pg_catalog.int2, 'U', pg_catalog.textin(pg_catalog.record_out(NEW)),
            pg_catalog.textin(pg_catalog.record_out(OLD)));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_delete_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img)
    VALUES (TG_ARGV[0]::pg_catalog.int2, 'D', pg_catalog.textin(pg_catalog.record_out(OLD)));
    RETURN NULL;
END $$;
DO $$
DECLARE t record; op text;
BEGIN
    FOR t IN SELECT id, name FROM sync_fdw_src.tables LOOP
        FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', 'sync_fdw_' || op, t.name);
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON public.%I FOR EACH ROW'
                           ' EXECUTE FUNCTION sync_fdw_src.%I(%L)', 'sync_fdw_' || op, upper(op),
                           t.name, 'capture_' || op || '_row', t.id);
        END LOOP;
    END LOOP;
END $$;
