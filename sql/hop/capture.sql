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

-- Captured tables: the number used in changes.tbl, the table it stands for
-- (schema, name and oid when capture was installed), and the column list as
-- it was at install time (a schema change stops the apply instead of
-- silently dropping a column).  The numbers are positions in the plan of the
-- configuration capture was installed with: the applier checks that its own
-- plan numbers the tables the same way (hop/capture.h, capture_check), so a
-- reordered or extended "tables:" never routes a change to another table.
-- Installs older than these identities have no nspname and relid.
CREATE TABLE IF NOT EXISTS sync_fdw_src.tables (
    id        smallint PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    columns   text NOT NULL
);
ALTER TABLE sync_fdw_src.tables ADD COLUMN IF NOT EXISTS nspname text,
                                ADD COLUMN IF NOT EXISTS relid oid;

-- Hop settings the triggers need: the sync's name (for the TRUNCATE error)
-- and, after a cutover, the new host (the fence's error names it); and
-- capture_epoch, which every install bumps in the transaction that writes
-- sync_fdw_src.tables: an applier reads it with each batch (the horizon
-- view) and checks the table list again only when it moved.
CREATE TABLE IF NOT EXISTS sync_fdw_src.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Read through the link first in each batch, so in the same remote snapshot
-- as the changes: that snapshot, the change sequence's value (the next
-- batch's bound, see hop/apply.h) and the source's clock.
-- The sequence's value comes from pg_sequence_last_value() (what the
-- pg_sequences view shows), which reads it under the buffer lock.  A plain
-- SELECT last_value FROM the sequence reads the tuple after the lock is
-- released, and nextval() rewrites it in place: while it WAL-logs ahead it
-- briefly holds a value up to 32 above the last one handed out, so two
-- reads could go backwards, which the applier takes for a change log made
-- again behind its back and stops (seen under load in bench/sync).
CREATE OR REPLACE VIEW sync_fdw_src.horizon AS
    SELECT pg_current_snapshot()::text AS snapshot,
           coalesce(pg_catalog.pg_sequence_last_value('sync_fdw_src.change_seq'::regclass), 0) AS seq,
           clock_timestamp() AS at,
           (SELECT s.value FROM sync_fdw_src.settings s WHERE s.key = 'capture_epoch') AS epoch;

-- The captured tables as the applier checks them: present is false when
-- the oid recorded at install no longer names that table (dropped and made
-- again, or renamed: its triggers went with it).  Names and operators are
-- qualified: the view is made with the installer's search_path.
CREATE OR REPLACE VIEW sync_fdw_src.captured AS
    SELECT t.id AS table_no, t.nspname, t.name AS relname, t.relid,
           EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n
                       ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                    WHERE c.oid OPERATOR(pg_catalog.=) t.relid
                      AND c.relname OPERATOR(pg_catalog.=) t.name::pg_catalog.name
                      AND n.nspname OPERATOR(pg_catalog.=) t.nspname::pg_catalog.name) AS present
      FROM sync_fdw_src.tables t;

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

-- The capture functions and triggers are per table, made by
-- sqlgen_capture_triggers() in hop/sqlgen.c: sync_fdw_src.capture_<id>_insert,
-- _update and _delete, the table's number baked in as a constant (a trigger
-- argument would be an array built and cast on every call: ~6,000
-- instructions), each one INSERT into sync_fdw_src.changes.  By
-- capture.triggers:
--   row        AFTER INSERT, AFTER UPDATE, AFTER DELETE, all FOR EACH ROW;
--   statement  AFTER INSERT and AFTER DELETE FOR EACH STATEMENT over the
--              transition tables new_rows and old_rows, AFTER UPDATE per
--              row: transition tables do not pair each old row with its
--              new one.
-- Both write the same change rows.  Row-level triggers are cheaper for the
-- single-row statements of an application; statement-level ones for bulk
-- statements (bench/README.md, "bench/sync").  Installs older than
-- capture.triggers shared capture_insert/_update/_delete(id) functions;
-- they stay, unused, until the capture is removed.
--
-- They run as their owner (SECURITY DEFINER): the application's role needs
-- no privilege on the change log, and having none, it cannot write change
-- rows of its own; EXECUTE is revoked from PUBLIC, so nobody else can
-- attach them to a table either (CREATE TRIGGER checks it; firing does not).
--
-- Safe without "SET search_path".  That clause would cost every captured
-- write ~8,000 instructions (a GUC nest level, parsing the path), so the
-- capture functions run with the caller's search_path, which a hostile
-- caller sets (search_path = evil, pg_catalog; the session's temporary
-- schema also comes first for relations and types).  The bodies are
-- therefore written so that no name in them is looked up through the path:
--   - every table, type and function is schema-qualified: sync_fdw_src.changes,
--     pg_catalog.int2, pg_catalog.record_out, pg_catalog.textin;
--   - no operator at all (an unqualified one, "=" included, is looked up
--     through the path; OPERATOR(pg_catalog.=) would be the way to write
--     one): one function per operation instead of comparing TG_OP;
--   - no cast: the owner of a captured table may create a cast from its
--     row type to text (CREATE CAST), which would then run as the
--     functions' owner, so rows become text by record_out and textin called
--     by name;
--   - the literals (the table's number '5'::pg_catalog.int2, the op 'I',
--     'U', 'D') are read by their type's input function: no lookup by name,
--     not even of a unary minus;
--   - the defaults of sync_fdw_src.changes (nextval, pg_current_xact_id,
--     statement_timestamp) were resolved when the table was created and are
--     stored by OID;
--   - NEW and OLD are PL/pgSQL's variables, and the transition tables
--     (new_rows, old_rows) are found before any relation of the path.
-- The caller's other settings would shape the row images: DateStyle the
-- text of dates ("03/04/2026": March or April?), IntervalStyle that of
-- intervals, extra_float_digits below 1 rounds floats.  So the functions of
-- a table with such a column (date, time, timestamp, interval, real, double
-- precision, or arrays of them, judged by type name) carry SET DateStyle =
-- 'ISO, MDY', IntervalStyle = 'postgres', extra_float_digits = 1, which
-- read back the same everywhere; the others pay nothing for it (the clause
-- costs ~8,000 instructions per call).  A domain over such a type is not
-- recognised by its name.  The hop's own sessions set the same (lib/pgx.c).
-- Keep it so: anything added to them must be qualified the same way
-- (tests/integration/test_sync.py runs the capture under a hostile path,
-- with types, operators, functions and a cast planted for it).
--
-- capture.function c (or auto, where the extension is available): the
-- row-level triggers call sync_fdw_src.capture_row('<table number>'
-- [, 'settings']) of the extension sync_fdw_capture instead, a C function
-- that writes the same change rows straight into the heap and its index
-- (ext/sync_fdw_capture/sync_fdw_capture.c; same safety: no name looked up
-- through the path, EXECUTE revoked from PUBLIC, fixed settings for the
-- images when asked).
--
-- TRUNCATE is refused by one shared function; it keeps its SET search_path:
-- it only runs for a TRUNCATE, which it refuses.
CREATE OR REPLACE FUNCTION sync_fdw_src.refuse_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of "%" is refused: the table is captured by sync "%"',
        TG_TABLE_NAME,
        coalesce((SELECT value FROM sync_fdw_src.settings WHERE key = 'sync_name'), '?')
        USING HINT = 'delete the rows instead, or remove the capture first (sync-fdw capture remove)',
              ERRCODE = 'object_in_use';
END $$;

REVOKE EXECUTE ON FUNCTION sync_fdw_src.refuse_truncate() FROM PUBLIC;
