-- Both: the btree on (xid) and one on (change_id).
CREATE INDEX changes_change_id_idx ON sync_fdw_src.changes (change_id);
