-- A btree on changes (change_id) instead of the one on (xid): it serves the
-- applier's range read (change_id > pos AND change_id <= U), its read of
-- open transactions' changes (change_id <= pos: few rows, the rest pruned)
-- and the prune.
DROP INDEX sync_fdw_src.changes_xid_idx;
CREATE INDEX changes_change_id_idx ON sync_fdw_src.changes (change_id);
