-- The hop's recorded state on the target (sync-fdw link creates it).
-- Everything a hop needs to resume after a crash is here, written in the
-- same transaction as the rows it describes, so that status can be asked
-- from any machine and no change is applied twice.
CREATE SCHEMA IF NOT EXISTS sync_fdw;

-- One row per hop, named by its foreign server (link.server).
CREATE TABLE IF NOT EXISTS sync_fdw.hop (
    server          text PRIMARY KEY,
    source          text NOT NULL,              -- the source's DSN, password masked
    created_at      timestamptz NOT NULL DEFAULT now(),
    stage           text NOT NULL DEFAULT 'linked',   -- hop/stage.h: the names, the moves
    -- the apply's position in the source's change log (hop/apply.h):
    -- every change with change_id <= pos was processed, except those of
    -- the transactions still running in open_snapshot (the source snapshot
    -- the last batch read in)
    pos             bigint NOT NULL DEFAULT 0,
    open_snapshot   pg_snapshot NOT NULL DEFAULT '1:1:',
    -- the change sequence's value read in the previous batch: the next
    -- batch reads no further, so it never passes a change whose transaction
    -- it cannot see yet
    seen_max        bigint NOT NULL DEFAULT 0,
    applied_changes bigint NOT NULL DEFAULT 0,
    skipped_changes bigint NOT NULL DEFAULT 0,
    batches         bigint NOT NULL DEFAULT 0,
    last_batch_at   timestamptz,
    last_change_at  timestamptz,                -- source time of the newest change applied
    rate            double precision NOT NULL DEFAULT 0,   -- changes/s of the last batches
    stop_requested  boolean NOT NULL DEFAULT false,
    last_error      text,
    last_error_at   timestamptz,
    copy_started_at timestamptz,
    copy_finished_at timestamptz,
    cutover_at      timestamptz,
    report          jsonb                       -- the last cutover's report
);

-- Pieces of the bulk copy, each read in one snapshot of the source: a
-- captured change is already in the copy exactly when it is visible in the
-- snapshot of the piece that holds its row.
CREATE TABLE IF NOT EXISTS sync_fdw.copied (
    server    text NOT NULL,
    tbl       integer NOT NULL,                 -- the table's number in the change log
    name      text NOT NULL,
    lo        bigint,                           -- key range [lo, hi); NULL: the whole table
    hi        bigint,
    snapshot  pg_snapshot NOT NULL,
    rows      bigint NOT NULL,
    copied_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (server, tbl, lo)
);

-- The remap ledger: every hop that brought rows here, with the offsets it
-- applied.  A later hop from this database carries these rows along, so any
-- id can be traced back through every hop.
CREATE TABLE IF NOT EXISTS sync_fdw.ledger (
    hop         integer NOT NULL,               -- 1 for the first move of the data
    server      text NOT NULL,
    source      text NOT NULL,
    target      text NOT NULL,
    table_name  text NOT NULL,
    key_column  text,
    "offset"    bigint NOT NULL,
    source_min  bigint,
    source_max  bigint,
    target_before_min bigint,                   -- ids the target held before the hop
    target_before_max bigint,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    carried     boolean NOT NULL DEFAULT false, -- copied from an earlier hop's ledger
    PRIMARY KEY (hop, table_name)
);

-- Indexes the copy dropped to load faster, rebuilt when their table's
-- rows are in (also by a copy resumed after a kill).  kind 'i': a plain
-- index; 'p' or 'u': the index behind a primary key or unique constraint,
-- rebuilt with CREATE UNIQUE INDEX and then attached to its constraint
-- again (ALTER TABLE ... USING INDEX).  While a 'p' row is here the table
-- lacks its primary key, which plan accepts.
CREATE TABLE IF NOT EXISTS sync_fdw.copy_index (
    server    text NOT NULL,
    name      text NOT NULL,
    def       text NOT NULL,
    PRIMARY KEY (server, name)
);
ALTER TABLE sync_fdw.copy_index ADD COLUMN IF NOT EXISTS tbl text,
                                ADD COLUMN IF NOT EXISTS kind "char" NOT NULL DEFAULT 'i';
