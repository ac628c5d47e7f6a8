-- ts DEFAULT clock_timestamp() instead of statement_timestamp().
ALTER TABLE sync_fdw_src.changes ALTER COLUMN ts SET DEFAULT clock_timestamp();
