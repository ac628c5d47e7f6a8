-- apply: the live sync's fixed statements (hop/apply.c, apply.h); the
-- per-table ones are built from the plan by hop/sqlgen.c.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: apply_ordered_batch
-- The batch, one change at a time in change-id order; a split key update:
-- its delete before its insert.
SELECT tbl, op, img, old FROM pg_temp.sync_batch 
ORDER BY change_id, op = 'I'

-- name: apply_merge_tables
-- The tables of public that may take their changes in one MERGE (why, in
-- pick_merges, hop/apply.c): a primary key and no other unique index, no
-- foreign key to or from them, no exclusion constraint, no rules.
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relhasrules
   AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
   AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                   AND NOT i.indisprimary)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contype IN ('f', 'x')
                   AND c.oid IN (k.conrelid, k.confrelid)) ORDER BY c.relname

-- name: apply_position
-- Hop $1's position, locked for the batch: pos, seen_max, the previous
-- snapshot's xmin, whether a copy is running, stop_requested, then the
-- previous snapshot's xmax and running transactions (xid8[] text).
SELECT pos, seen_max, pg_snapshot_xmin(open_snapshot), 
copy_started_at IS NOT NULL AND copy_finished_at IS NULL, stop_requested, 
pg_snapshot_xmax(open_snapshot), coalesce((SELECT array_agg(x) FROM 
pg_snapshot_xip(open_snapshot) x), '{}')::text FROM sync_fdw.hop WHERE server = $1 
FOR UPDATE

-- name: apply_snapshot_parts
-- The batch's snapshot of the source ($1) in parts: xmin, xmax and the
-- running transactions (xid8[] text).
SELECT pg_snapshot_xmin($1::pg_snapshot), pg_snapshot_xmax($1::pg_snapshot),
 coalesce((SELECT array_agg(x) FROM pg_snapshot_xip($1::pg_snapshot) x), '{}')::text

-- name: apply_batch_table
-- The batch: the changes read from the source, emptied at commit.
CREATE TEMP TABLE IF NOT EXISTS sync_batch (change_id bigint, xid xid8, 
tbl integer, op "char", img text, old text, ts timestamptz) ON COMMIT DELETE ROWS

-- name: apply_record_position
-- What a batch of hop $1 applied, recorded in its transaction: the new
-- position ($2 up to, $3 the snapshot, $4 the change sequence read), the
-- changes applied ($5) and skipped ($6), the rate ($7), the last change's
-- time; the hop moves on to $9 (syncing) from any stage of $8 (stage.h).
UPDATE sync_fdw.hop SET pos = $2, open_snapshot = $3::pg_snapshot, seen_max = 
greatest(seen_max, $4::bigint), applied_changes = applied_changes + $5,
 skipped_changes = skipped_changes + $6, batches = batches + 1,
 last_batch_at = now(), rate = $7,
 last_change_at = coalesce((SELECT max(ts) FROM pg_temp.sync_batch), last_change_at),
 last_error = NULL, stage = CASE WHEN stage = ANY ($8::text[]) THEN $9 ELSE stage END
 WHERE server = $1

-- name: apply_prune
-- The changes a committed batch processed, on the source: all up to $1
-- but those of the transactions open in its snapshot ($2 xmin, $3 xmax,
-- $4 the running ones).
DELETE FROM sync_fdw_src.changes WHERE change_id <= $1 AND NOT
 (xid >= $2::xid8 AND (xid >= $3::xid8 OR xid = ANY($4::xid8[])))

-- name: apply_vacuum
-- The change log, vacuumed now and then after a prune (prune in
-- hop/apply.c says why); no truncation: it would lock out the writers'
-- triggers.
VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, TRUNCATE false) 
sync_fdw_src.changes

-- name: apply_finished
-- Hop $1 when it is in stage $2 (finished): its source and its cutover's time.
SELECT source, cutover_at FROM sync_fdw.hop
 WHERE server = $1 AND stage = $2
