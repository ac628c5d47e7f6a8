-- bench/sync: MiniTwit's single-row writes, one per transaction, with
-- minitwitd's own SQL (minitwitd/queries.c): post a message (80%), follow
-- (7%), unfollow an existing follow (3%), store "latest" (10%).
-- pgbench -M prepared -D users=N -D follows=N -f writes.sql
\set r random(1, 100)
\set a random(1, :users)
\set b random(1, :users)
\set g random(1, :follows)
\set w 1 + :g % :users
\set m 1 + (:g * 7 + :g / :users) % :users
\set d random(1700000000, 1800000000)
\if :r <= 80
INSERT INTO message (author_id, text, pub_date, flagged) SELECT user_id, 'a message of typical length, written by pgbench for bench/sync: ' || :d, :d, 0 FROM "user" WHERE username = 'u' || :a;
\elif :r <= 87
WITH a AS (SELECT user_id FROM "user" WHERE username = 'u' || :a), b AS (SELECT user_id FROM "user" WHERE username = 'u' || :b), ins AS (INSERT INTO follower (who_id, whom_id) SELECT a.user_id, b.user_id FROM a, b WHERE NOT EXISTS (SELECT 1 FROM follower f WHERE f.who_id = a.user_id AND f.whom_id = b.user_id) RETURNING 1) SELECT (SELECT user_id FROM a), (SELECT user_id FROM b), (SELECT count(*) FROM ins);
\elif :r <= 90
WITH a AS (SELECT user_id FROM "user" WHERE username = 'u' || :w), b AS (SELECT user_id FROM "user" WHERE username = 'u' || :m), del AS (DELETE FROM follower f USING a, b WHERE f.who_id = a.user_id AND f.whom_id = b.user_id RETURNING 1) SELECT (SELECT user_id FROM a), (SELECT user_id FROM b), (SELECT count(*) FROM del);
\else
INSERT INTO latest (id, value) VALUES (1, :d) ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
\endif
