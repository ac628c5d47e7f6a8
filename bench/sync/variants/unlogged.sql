-- REFERENCE: an unlogged change log (lost in a crash: not acceptable).
ALTER TABLE sync_fdw_src.changes SET UNLOGGED;
