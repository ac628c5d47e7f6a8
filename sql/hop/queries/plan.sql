-- plan: what hop/plan.c checks before a hop (plan.h).
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: plan_copy_index_has_kind
-- 1 when sync_fdw.copy_index exists with its column kind (which records
-- the primary keys a copy in progress dropped).
SELECT count(*) FROM pg_attribute WHERE attrelid = 
to_regclass('sync_fdw.copy_index') AND attname = 'kind'

-- name: plan_key_unique
-- Whether column $2 of table public.$1 has a unique index of its own: that
-- column alone, without predicate or expression.
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
   ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
 WHERE i.indrelid = pg_catalog.to_regclass(pg_catalog.format('public.%I', $1::text))
   AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL
   AND a.attname = $2)

-- name: plan_same_text
-- Same text for the same values on both servers, whatever the sessions'
-- defaults: for this transaction only.
BEGIN READ ONLY; SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL TimeZone = 'UTC'; 
SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; 
SET LOCAL bytea_output = 'hex'
