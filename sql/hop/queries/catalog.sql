-- catalog: what hop/catalog.c reads of a database's catalog (catalog.h). $1 is
-- the schema.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: catalog_sequence_uses
-- The columns that draw from a sequence: the sequence an identity column
-- depends on ('i') or that is owned by a column ('a'), and every sequence a
-- default's expression names (a pg_attrdef row depending on a relation of
-- relkind 'S': nextval('s'::regclass) records it).  pg_get_serial_sequence
-- sees only the first two.  One row per (sequence, column): a serial column
-- both owns its sequence and names it, and keeps its kind 'a'.
-- Columns: sequence (schema-qualified, quoted as %I), table, column, the
-- column's type, kind, the sequence's increment, min and max.
WITH u AS (
  SELECT d.refobjid AS seq, ad.adrelid AS rel, ad.adnum AS att, 'd'::"char" AS kind
    FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_depend d
      ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass
  UNION ALL
  SELECT d.objid, d.refobjid, d.refobjsubid::smallint, d.deptype
    FROM pg_catalog.pg_depend d
   WHERE d.classid = 'pg_catalog.pg_class'::regclass
     AND d.refclassid = 'pg_catalog.pg_class'::regclass
     AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0)
 SELECT * FROM (SELECT DISTINCT ON (u.seq, u.rel, u.att)
        format('%I.%I', sn.nspname, s.relname) AS sequence, c.relname, a.attname,
        format_type(a.atttypid, a.atttypmod), u.kind, q.seqincrement, q.seqmin, q.seqmax
   FROM u JOIN pg_catalog.pg_class s ON s.oid = u.seq AND s.relkind = 'S'
   JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
   JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
   JOIN pg_catalog.pg_class c ON c.oid = u.rel
   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.att
  WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT a.attisdropped
  ORDER BY u.seq, u.rel, u.att, u.kind) x ORDER BY 1, 2, 3

-- name: catalog_columns
-- Every column of the schema's tables (not of partitions), in table and
-- column order: name, type, NOT NULL, identity kind.
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum

-- name: catalog_primary_keys
-- Primary keys, in key order.
SELECT c.relname, a.attname
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum
 WHERE n.nspname = $1 AND k.contype = 'p'
 ORDER BY c.relname, u.ord

-- name: catalog_foreign_keys
-- Single-column foreign keys within the schema.
SELECT c.relname, a.attname, rc.relname, ra.attname
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1]
  JOIN pg_attribute ra ON ra.attrelid = rc.oid AND ra.attnum = k.confkey[1]
 WHERE n.nspname = $1 AND rn.nspname = $1 AND k.contype = 'f'
   AND array_length(k.conkey, 1) = 1
 ORDER BY c.relname, k.conname

-- name: catalog_indexes
-- Every index of the schema's tables, with its definition and whether it is
-- the primary key's.
SELECT c.relname, ic.relname, pg_get_indexdef(i.indexrelid), i.indisprimary
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 ORDER BY c.relname, ic.relname
