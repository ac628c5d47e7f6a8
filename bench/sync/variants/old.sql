-- capture.sql before capture.triggers (as of b216b15): statement-level
-- AFTER INSERT/DELETE triggers with transition tables, row-level AFTER
-- UPDATE, shared functions taking the table's number as the trigger's
-- argument, every one SECURITY DEFINER SET search_path, names unqualified.
-- The whole old layout: combine it with the index and REFERENCE variants
-- (and rowtrig, nosetpath, invoker, plain: they were measured on it).
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img)
    SELECT TG_ARGV[0]::smallint, 'I', n::text FROM new_rows n;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img)
    SELECT TG_ARGV[0]::smallint, 'D', o::text FROM old_rows o;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img, old)
    VALUES (TG_ARGV[0]::smallint, 'U', NEW::text, OLD::text);
    RETURN NULL;
END $$;
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT id, name FROM sync_fdw_src.tables LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS sync_fdw_insert ON public.%I', t.name);
        EXECUTE format('DROP TRIGGER IF EXISTS sync_fdw_delete ON public.%I', t.name);
        EXECUTE format('DROP TRIGGER IF EXISTS sync_fdw_update ON public.%I', t.name);
        EXECUTE format('CREATE TRIGGER sync_fdw_insert AFTER INSERT ON public.%I'
                       ' REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION sync_fdw_src.capture_insert(%L)', t.name, t.id);
        EXECUTE format('CREATE TRIGGER sync_fdw_update AFTER UPDATE ON public.%I FOR EACH ROW'
                       ' EXECUTE FUNCTION sync_fdw_src.capture_update(%L)', t.name, t.id);
        EXECUTE format('CREATE TRIGGER sync_fdw_delete AFTER DELETE ON public.%I'
                       ' REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION sync_fdw_src.capture_delete(%L)', t.name, t.id);
    END LOOP;
END $$;
