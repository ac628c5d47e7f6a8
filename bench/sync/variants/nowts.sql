-- ts DEFAULT now() (the transaction's start) instead of statement_timestamp().
ALTER TABLE sync_fdw_src.changes ALTER COLUMN ts SET DEFAULT now();
