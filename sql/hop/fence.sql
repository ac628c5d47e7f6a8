-- The fence on the old host of a hop (migrate cutover): from now on every
-- write to the hop's tables fails loudly, naming the new host, so that no
-- stray writer (a server the cutover missed, a cron job) can lose data
-- here.  minitwitd follows minitwit_fence.moved_to to the new host.
-- Idempotent; the per-table triggers are made by hop/cutover.c, and
-- default_transaction_read_only is set for new sessions of the database.
CREATE SCHEMA IF NOT EXISTS minitwit_fence;

CREATE TABLE IF NOT EXISTS minitwit_fence.moved_to (
    dsn text NOT NULL,          -- the new database, no password
    at  timestamptz NOT NULL DEFAULT now()
);

GRANT USAGE ON SCHEMA minitwit_fence TO PUBLIC;
GRANT SELECT ON minitwit_fence.moved_to TO PUBLIC;

-- The migration tools set minitwit.fence_bypass in their own sessions: a
-- move back (sync-fdw following the new host into this one, then a
-- cutover to it) writes here.  A guard against lost writes, not a
-- permission: anyone may set it, no application does.
CREATE OR REPLACE FUNCTION minitwit_fence.refuse() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('minitwit.fence_bypass', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'writes to "%" are refused: the database has moved to %', TG_TABLE_NAME,
        coalesce((SELECT '"' || dsn || '"' FROM minitwit_fence.moved_to ORDER BY at DESC LIMIT 1),
                 'a new host (cutover in progress)')
        USING ERRCODE = 'MT001',
              HINT = 'connect to the new host; minitwitd follows minitwit_fence.moved_to by itself';
END $$;
