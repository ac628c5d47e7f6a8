-- One btree, on changes (change_id), none on (xid): what capture.sql has
-- made since 6ef5c14.  It serves the applier's range read (change_id > pos
-- AND change_id <= U), its read of open transactions' changes (change_id <=
-- pos: few rows, the rest pruned) and the prune.
DROP INDEX IF EXISTS sync_fdw_src.changes_xid_idx;
CREATE INDEX IF NOT EXISTS changes_change_id_idx ON sync_fdw_src.changes (change_id);
