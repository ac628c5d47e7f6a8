-- Both: a btree on changes (xid) and one on (change_id).
CREATE INDEX IF NOT EXISTS changes_xid_idx ON sync_fdw_src.changes (xid);
CREATE INDEX IF NOT EXISTS changes_change_id_idx ON sync_fdw_src.changes (change_id);
