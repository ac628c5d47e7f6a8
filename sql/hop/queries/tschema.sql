-- tschema: how hop/tschema.c reads a source table's definition to create it
-- on the target (tschema.h).  $1 is the table, in schema public.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: tschema_sequences
-- The sequences the columns of source table $1 draw from, other than
-- identity sequences (the column creates those): each one a default names,
-- as CREATE SEQUENCE IF NOT EXISTS with the source's type and options (a
-- sequence shared with another table may already be on the target), and,
-- for one owned by a column of the table (serial), the ALTER SEQUENCE ...
-- OWNED BY that restores the ownership once the table exists, so that the
-- next hop, pg_dump and DROP TABLE see a serial column again.
WITH t AS (SELECT c.oid FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relname = $1),
 u AS (SELECT d.refobjid AS seq FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
        AND d.refclassid = 'pg_catalog.pg_class'::regclass
       WHERE ad.adrelid = (SELECT oid FROM t)
       UNION SELECT d.objid FROM pg_catalog.pg_depend d
       WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a'
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = (SELECT oid FROM t))
 SELECT format('CREATE SEQUENCE IF NOT EXISTS %I.%I AS %s ', sn.nspname, s.relname,
               format_type(q.seqtypid, NULL)) || format('START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s %s', q.seqstart,
 q.seqincrement, q.seqmin, q.seqmax, q.seqcache, CASE WHEN q.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END),
        (SELECT format('ALTER SEQUENCE %I.%I OWNED BY public.%I.%I', sn.nspname, s.relname,
                       $1::text, a.attname)
           FROM pg_catalog.pg_depend o JOIN pg_catalog.pg_attribute a
             ON a.attrelid = o.refobjid AND a.attnum = o.refobjsubid
          WHERE o.classid = 'pg_catalog.pg_class'::regclass AND o.objid = s.oid
            AND o.refclassid = 'pg_catalog.pg_class'::regclass AND o.deptype = 'a'
            AND o.refobjid = (SELECT oid FROM t))
   FROM u JOIN pg_catalog.pg_class s ON s.oid = u.seq AND s.relkind = 'S'
   JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
   JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
  ORDER BY 1

-- name: tschema_columns
-- The columns of source table $1, in order: name, type, NOT NULL, identity
-- kind, default, and for an identity column its sequence's name and options
-- (an identity column keeps them).
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
       pg_get_expr(d.adbin, d.adrelid),
       (SELECT format('SEQUENCE NAME %I.%I ', sn.nspname, s.relname) || format('START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s %s', q.seqstart,
 q.seqincrement, q.seqmin, q.seqmax, q.seqcache, CASE WHEN q.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)
          FROM pg_catalog.pg_depend di JOIN pg_catalog.pg_class s ON s.oid = di.objid
          JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
          JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
         WHERE di.classid = 'pg_catalog.pg_class'::regclass AND di.deptype = 'i'
           AND di.refclassid = 'pg_catalog.pg_class'::regclass
           AND di.refobjid = c.oid AND di.refobjsubid = a.attnum)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE n.nspname = 'public' AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum

-- name: tschema_constraints
-- The constraints of source table $1 that CREATE TABLE lists: primary key,
-- unique, check, exclusion (foreign keys come last: tschema_foreign_keys).
SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relname = $1 AND k.contype IN ('p', 'u', 'c', 'x')
 ORDER BY k.contype, k.conname

-- name: tschema_indexes
-- The indexes of source table $1 that no constraint created.
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relname = $1
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)

-- name: tschema_foreign_keys
-- The foreign keys of source table $1, added once every table exists.
SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relname = $1 AND k.contype = 'f' ORDER BY k.conname
