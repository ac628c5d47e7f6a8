-- copy: hop/copy.c's fixed queries (copy.h); the per-table COPY statements
-- are built from the plan (sqlgen.c).
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: copy_record_piece
-- A piece of table $3 (id $2) of hop $1 copied: its id range ($4, $5; NULL
-- when unranged), the snapshot it was read in ($6) and its rows ($7).
INSERT INTO sync_fdw.copied (server, tbl, name, lo, hi, snapshot, rows)
 VALUES ($1, $2, $3, $4, $5, $6::pg_snapshot, $7)

-- name: copy_builtin_types
-- Whether every column of source table $1 has a built-in type (binary COPY
-- reads the same on both ends).
SELECT coalesce(bool_and(atttypid < 16384), false) FROM pg_attribute
 WHERE attrelid = to_regclass(format('public.%I', $1::text))
 AND attnum > 0 AND NOT attisdropped

-- name: copy_has_fks
-- Whether the target has foreign keys (rows must then go in parents first).
SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f'
 AND connamespace = 'public'::regnamespace)
