-- cutover: hop/cutover.c's fixed queries (cutover.h); the fence itself is
-- sql/hop/fence.sql, and its per-table triggers are built there.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: cutover_fenced_tables
-- The tables of the source that carry the fence's trigger.
SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid 
JOIN pg_namespace n ON n.oid = c.relnamespace 
WHERE t.tgname = 'minitwit_fence' AND n.nspname = 'public'

-- name: cutover_running_xids
-- The transactions running at the fence (pg_current_snapshot's xip).
SELECT coalesce(array_agg(x), '{}')::text FROM 
pg_snapshot_xip(pg_current_snapshot()) x

-- name: cutover_still_running
-- Of the transactions $1, how many still run, and the oldest of them.
SELECT count(*) FILTER (WHERE pg_xact_status(x) = 'in progress'),
 min(x::text) FILTER (WHERE pg_xact_status(x) = 'in progress')
 FROM unnest($1::xid8[]) x

-- name: cutover_hop_state
-- Hop $1's stage, whether a copy is under way, and seconds since its last
-- applied batch.
SELECT stage, copy_started_at IS NOT NULL AND copy_finished_at IS NULL,
 extract(epoch FROM now() - last_batch_at) FROM sync_fdw.hop WHERE server = $1
