-- hop: the hop's state on the target, read and written by hop/hop.c (hop.h).
-- $1 is the hop's server name.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: hop_recorded_offsets
-- The offsets hop $1 recorded for its tables (not the lines carried from
-- earlier hops).
SELECT table_name, "offset" FROM sync_fdw.ledger
 WHERE server = $1 AND NOT carried

-- name: hop_record_error
-- Hop $1's last error ($2), for status.
UPDATE sync_fdw.hop SET last_error = $2, last_error_at = now() 
WHERE server = $1

-- name: hop_state_exists
-- Whether the target holds the hops' state (schema sync_fdw, table hop).
SELECT to_regclass('sync_fdw.hop') IS NOT NULL AND EXISTS 
(SELECT 1 FROM pg_namespace WHERE nspname = 'sync_fdw')
