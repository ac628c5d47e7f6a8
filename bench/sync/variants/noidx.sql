-- REFERENCE: no index on the change log at all (the apply needs one).
DROP INDEX IF EXISTS sync_fdw_src.changes_xid_idx;
DROP INDEX IF EXISTS sync_fdw_src.changes_change_id_idx;
