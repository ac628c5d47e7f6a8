-- Change capture on the source of a hop (sync-fdw capture install).
--
-- Every insert, update and delete of a captured table appends a row to
-- sync_fdw_src.changes with:
--   change_id  from a sequence WITHOUT cache: ids increase in real time
--              across sessions, so two changes of one row (serialised by the
--              row lock) are always in change_id order;
--   xid        the writing transaction (xid8, never wraps), which tells the
--              applier whether the change is committed in its snapshot;
--   img / old  the row as text (record output): the new image for inserts
--              and updates, the old one for deletes; updates also keep the
--              old image (keyless tables need it to find the row).
-- The applier reads this table through postgres_fdw; see hop/apply.c for
-- why this is exactly-once.  Objects are created idempotently; the per-table
-- triggers are made by hop/capture.c.
CREATE SCHEMA IF NOT EXISTS sync_fdw_src;

CREATE SEQUENCE IF NOT EXISTS sync_fdw_src.change_seq AS bigint CACHE 1;

CREATE TABLE IF NOT EXISTS sync_fdw_src.changes (
    change_id bigint NOT NULL DEFAULT nextval('sync_fdw_src.change_seq'),
    xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ts        timestamptz NOT NULL DEFAULT statement_timestamp(),
    tbl       smallint NOT NULL,
    op        "char" NOT NULL,          -- 'I', 'U', 'D'
    img       text NOT NULL,
    old       text
);
-- The applier reads ranges of change ids (and the few rows at or below its
-- position that open transactions left), and deletes what it applied, so
-- the table stays small; one index, on change_id, serves all three (an
-- index on xid would cost every write the same and serve none of them).
CREATE INDEX IF NOT EXISTS changes_change_id_idx ON sync_fdw_src.changes (change_id);

-- Captured tables: the number used in changes.tbl, and the column list as it
-- was at install time (a schema change stops the apply instead of silently
-- dropping a column).
CREATE TABLE IF NOT EXISTS sync_fdw_src.tables (
    id        smallint PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    columns   text NOT NULL
);

-- Hop settings the triggers need: the sync's name (for the TRUNCATE error)
-- and, after a cutover, the new host (the fence's error names it).
CREATE TABLE IF NOT EXISTS sync_fdw_src.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Read through the link first in each batch, so in the same remote snapshot
-- as the changes: that snapshot, the change sequence's value (the next
-- batch's bound, see hop/apply.h) and the source's clock.
CREATE OR REPLACE VIEW sync_fdw_src.horizon AS
    SELECT pg_current_snapshot()::text AS snapshot,
           (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
              FROM sync_fdw_src.change_seq) AS seq,
           clock_timestamp() AS at;

-- The current column list of each captured table, to compare with
-- tables.columns.
CREATE OR REPLACE VIEW sync_fdw_src.table_columns AS
    SELECT t.id, t.name, t.columns AS captured,
           (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod),
                              ', ' ORDER BY a.attnum)
              FROM pg_attribute a
             WHERE a.attrelid = to_regclass(format('public.%I', t.name)) AND a.attnum > 0
               AND NOT a.attisdropped) AS current
      FROM sync_fdw_src.tables t;

-- The trigger functions run as their owner (SECURITY DEFINER) so that the
-- application's role needs no privilege on the change log.
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

-- Updates are captured per row: a statement's transition tables do not pair
-- each old row with its new row.
CREATE OR REPLACE FUNCTION sync_fdw_src.capture_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO sync_fdw_src.changes (tbl, op, img, old)
    VALUES (TG_ARGV[0]::smallint, 'U', NEW::text, OLD::text);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION sync_fdw_src.refuse_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of "%" is refused: the table is captured by sync "%"',
        TG_TABLE_NAME,
        coalesce((SELECT value FROM sync_fdw_src.settings WHERE key = 'sync_name'), '?')
        USING HINT = 'delete the rows instead, or remove the capture first (sync-fdw capture remove)',
              ERRCODE = 'object_in_use';
END $$;
