-- indexes: hop/indexes.c's queries (indexes.h): the target's indexes and
-- constraints dropped for the copy and rebuilt after it.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: indexes_constraint_attached
-- Whether constraint $1 is on target table $2 again.
SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1
 AND conrelid = to_regclass(format('public.%I', $2::text)))

-- name: indexes_describe
-- Index $1 of the target: the kind of constraint it backs ('i': none), whether
-- it must be kept as a constraint (deferrable, named otherwise, or backing a
-- foreign key), and its definition.
SELECT coalesce(c.contype, 'i'), coalesce(c.condeferrable, false) OR coalesce(c.conname <> (SELECT relname FROM pg_class WHERE oid = i.indexrelid), false)
  OR EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid),
  pg_get_indexdef(i.indexrelid)
 FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid
  AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
 WHERE i.indexrelid = to_regclass(format('public.%I', $1::text))

-- name: indexes_remember
-- An index (or constraint) $2 of table $4 that hop $1 dropped for the copy:
-- its definition ($3) and kind ($5), to rebuild it after.
INSERT INTO sync_fdw.copy_index (server, name, def, tbl, kind)
 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING

-- name: indexes_dropped
-- The indexes hop $1 dropped for the copy, to rebuild.
SELECT name, def, coalesce(tbl, ''), kind FROM sync_fdw.copy_index
 WHERE server = $1 ORDER BY name
