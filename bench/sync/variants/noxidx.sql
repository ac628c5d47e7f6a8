-- No index on changes (xid).
DROP INDEX sync_fdw_src.changes_xid_idx;
