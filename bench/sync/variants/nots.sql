-- REFERENCE: no ts at all (status' lag needs it).
ALTER TABLE sync_fdw_src.changes ALTER COLUMN ts DROP NOT NULL, ALTER COLUMN ts DROP DEFAULT;
