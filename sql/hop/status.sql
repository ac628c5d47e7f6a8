-- The hop's recorded state on the target as one JSON object (migrate
-- status; its keys are what "migrate status --json" prints, a contract):
-- stage, copy progress per table, the apply's counters, the last cutover's
-- report, and the whole ledger.  $1: the hop (link.server).  No row: no
-- such hop.
SELECT json_build_object(
    'hop', h.server, 'stage', h.stage, 'source', h.source,
    'copy_started_at', h.copy_started_at, 'copy_finished_at', h.copy_finished_at,
    'copied', (SELECT coalesce(json_object_agg(x.name, json_build_object('rows', x.rows, 'pieces', x.pieces)), '{}')
               FROM (SELECT name, sum(rows) AS rows, count(*) AS pieces FROM sync_fdw.copied
                     WHERE server = h.server GROUP BY name) x),
    'applied_changes', h.applied_changes, 'last_batch_at', h.last_batch_at,
    'cutover_at', h.cutover_at, 'last_error', h.last_error, 'report', h.report,
    'ledger', (SELECT coalesce(json_agg(json_build_object('hop', l.hop, 'table', l.table_name,
                   'offset', l."offset", 'source', l.source, 'carried', l.carried)
                   ORDER BY l.hop, l.table_name), '[]')
               FROM sync_fdw.ledger l))::text
FROM sync_fdw.hop h WHERE h.server = $1
