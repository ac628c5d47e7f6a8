-- REFERENCE: a cached change sequence.  Breaks the real-time order of change
-- ids across sessions that the applier relies on (hop/apply.h).
ALTER SEQUENCE sync_fdw_src.change_seq CACHE 64;
