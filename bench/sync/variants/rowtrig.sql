-- Row-level AFTER INSERT/DELETE triggers instead of statement-level ones with
-- transition tables (updates are row-level already).  Same change rows.
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_insert_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img)
    VALUES (TG_ARGV[0]::smallint, 'I', NEW::text);
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_delete_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img)
    VALUES (TG_ARGV[0]::smallint, 'D', OLD::text);
    RETURN NULL;
END $$;
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT id, name FROM sync_fdw_src.tables LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS sync_fdw_insert ON public.%I', t.name);
        EXECUTE format('DROP TRIGGER IF EXISTS sync_fdw_delete ON public.%I', t.name);
        EXECUTE format('CREATE TRIGGER sync_fdw_insert AFTER INSERT ON public.%I FOR EACH ROW'
                       ' EXECUTE FUNCTION sync_fdw_src.capture_insert_row(%L)', t.name, t.id);
        EXECUTE format('CREATE TRIGGER sync_fdw_delete AFTER DELETE ON public.%I FOR EACH ROW'
                       ' EXECUTE FUNCTION sync_fdw_src.capture_delete_row(%L)', t.name, t.id);
    END LOOP;
END $$;
