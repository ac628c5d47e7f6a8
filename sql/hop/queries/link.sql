-- link: the target's link to the source and the hop's ledger (hop/link.c,
-- link.h).
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: link_source_ledger
-- The source's ledger (the hops before this one), when it has one: every
-- column as the source has it, so a carried hop keeps the time it was
-- recorded.
SELECT hop, server, source, target, table_name, key_column, "offset",
 source_min, source_max, target_before_min, target_before_max, recorded_at
 FROM sync_fdw.ledger WHERE to_regclass('sync_fdw.ledger') IS NOT NULL

-- name: link_carry_ledger
-- One line of the source's ledger, carried to the target as it was.
INSERT INTO sync_fdw.ledger (hop, server, source, target, table_name, key_column,
 "offset", source_min, source_max, target_before_min, target_before_max,
 recorded_at, carried)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, true) ON CONFLICT DO NOTHING

-- name: link_record_ledger
-- This hop's line for one table; a re-link keeps what the first link saw
-- of the target.
INSERT INTO sync_fdw.ledger (hop, server, source, target, table_name, key_column,
 "offset", source_min, source_max, target_before_min, target_before_max)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
 ON CONFLICT (hop, table_name) DO UPDATE SET "offset" = EXCLUDED."offset",
 key_column = EXCLUDED.key_column, source_min = EXCLUDED.source_min,
 source_max = EXCLUDED.source_max, recorded_at = now()

-- name: link_record_hop
-- Hop $1 and its source $2 (a DSN without a password).
INSERT INTO sync_fdw.hop (server, source) VALUES ($1, $2)
 ON CONFLICT (server) DO UPDATE SET source = EXCLUDED.source

-- name: link_dropped_indexes
-- The indexes and keys an unfinished copy of hop $1 dropped and has not
-- rebuilt, as one list.
SELECT string_agg(format('%I', name), ', ' ORDER BY name)
 FROM sync_fdw.copy_index WHERE server = $1

-- name: link_fdw_available
-- Whether postgres_fdw is available on the target's host.
SELECT EXISTS (SELECT 1 FROM pg_available_extensions 
WHERE name = 'postgres_fdw')

-- name: link_fdw_installed
-- Whether postgres_fdw is installed in the target's database.
SELECT EXISTS (SELECT 1 FROM pg_extension 
WHERE extname = 'postgres_fdw')

-- name: link_fdw_usage
-- Whether the target's user may use postgres_fdw.
SELECT has_foreign_data_wrapper_privilege(
'postgres_fdw', 'USAGE')

-- name: link_trigger_privilege
-- Whether the source's user may create triggers on every table of public.
SELECT coalesce(bool_and(has_table_privilege(c.oid, 'TRIGGER')), true)
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
