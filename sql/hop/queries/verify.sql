-- verify: hop/verify.c's fixed queries (verify.h); the per-table comparisons
-- are built from the plan there.
--
-- Named queries (tools/embed -q): each block below, from its "-- name:" line
-- to the next, is the C constant hq_<name> (hop_queries.h); the comment lines
-- after the name explain the query and are not sent.

-- name: verify_ledger_range
-- The ids table $2 of hop $1 held on the target before the hop (its ledger
-- line), which the comparison leaves out.
SELECT target_before_min, target_before_max FROM sync_fdw.ledger
 WHERE server = $1 AND table_name = $2 AND NOT carried

-- name: verify_begin
-- One snapshot for the whole verification; row text must be written alike
-- on both sides: the remote session of postgres_fdw uses these settings.
BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL TimeZone = 'UTC';
 SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres';
 SET LOCAL extra_float_digits = 3
