-- One btree, on changes (xid), none on (change_id): capture.sql before
-- 6ef5c14.
DROP INDEX IF EXISTS sync_fdw_src.changes_change_id_idx;
CREATE INDEX IF NOT EXISTS changes_xid_idx ON sync_fdw_src.changes (xid);
