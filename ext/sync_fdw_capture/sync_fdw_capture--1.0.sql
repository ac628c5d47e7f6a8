-- sync_fdw_capture 1.0: CREATE EXTENSION sync_fdw_capture SCHEMA sync_fdw_src
\echo Use "CREATE EXTENSION sync_fdw_capture" to load this file. \quit

CREATE FUNCTION capture_row() RETURNS trigger
AS 'MODULE_PATHNAME', 'sync_fdw_capture_row' LANGUAGE C;

-- Only the extension's owner (the hop's role) attaches it to a table: it
-- writes the change log without any privilege on it.
REVOKE EXECUTE ON FUNCTION capture_row() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION capture_row() TO @extowner@;
