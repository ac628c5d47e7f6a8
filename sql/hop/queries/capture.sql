-- capture: installing the change capture on the source (hop/capture.c,
-- capture.h); the schema itself is sql/hop/capture.sql.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: capture_extension_available
-- Whether this database's host has the extension sync_fdw_capture (the C
-- capture trigger).
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions
 WHERE name = 'sync_fdw_capture')

-- name: capture_registry_columns
-- After the registry's rows (sync_fdw_src.tables): the column lists as the
-- database describes them now (a later change stops the apply, see
-- sync_fdw_src.table_columns), and capture_epoch bumped: an applier running
-- meanwhile checks its table list again.
UPDATE sync_fdw_src.tables t SET columns = v.current FROM sync_fdw_src.table_columns v
 WHERE v.id = t.id;
INSERT INTO sync_fdw_src.settings AS s VALUES ('capture_epoch', '1') ON CONFLICT (key)
 DO UPDATE SET value = (s.value::pg_catalog.int8 + 1)::text;

-- name: capture_captured_tables
-- The tables the change log numbers now: number, schema, name, and whether
-- the table is still there.
SELECT table_no, coalesce(nspname, 'public'), relname, present
 FROM sync_fdw_src.captured ORDER BY table_no

-- name: capture_record_settings
-- The sync's name $1 (for the TRUNCATE error) and the version $2 of the
-- objects just made (capture_warn_if_outdated).
INSERT INTO sync_fdw_src.settings VALUES ('sync_name', $1), ('capture_sql', $2)
 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value

-- name: capture_move_sequence
-- The change sequence moved above $1 (the hop's position), never down; its
-- position read with pg_sequence_last_value: under the buffer lock (see the
-- horizon view in sql/hop/capture.sql).
SELECT pg_catalog.setval('sync_fdw_src.change_seq', $1::bigint)
 WHERE coalesce(pg_catalog.pg_sequence_last_value(
'sync_fdw_src.change_seq'::pg_catalog.regclass), 0) < $1::bigint
