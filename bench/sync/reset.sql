-- bench/sync: back to the seeded data before a run (triggers do not fire
-- under session_replication_role = replica, so nothing is captured).
\set ON_ERROR_STOP 1
SET session_replication_role = replica;
DELETE FROM message WHERE message_id > (SELECT max_message FROM bench.base);
UPDATE message SET flagged = 0 WHERE flagged <> 0;
DELETE FROM "user" WHERE user_id > (SELECT max_user FROM bench.base);
TRUNCATE follower;
INSERT INTO follower SELECT * FROM bench.follower_base;
UPDATE latest SET value = -1;
SELECT CASE WHEN to_regclass('sync_fdw_src.changes') IS NOT NULL THEN 'TRUNCATE sync_fdw_src.changes'
            ELSE 'SELECT' END \gexec
RESET session_replication_role;
VACUUM (ANALYZE) message, "user", follower, latest;
SELECT CASE WHEN to_regclass('sync_fdw_src.changes') IS NOT NULL THEN 'VACUUM (ANALYZE) sync_fdw_src.changes'
            ELSE 'SELECT' END \gexec
CHECKPOINT;
