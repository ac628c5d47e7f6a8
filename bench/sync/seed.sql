-- bench/sync: the source's data (psql variables users, messages, follows),
-- loaded once; reset.sql brings the tables back to it before each run.
\set ON_ERROR_STOP 1
INSERT INTO "user" (username, email, pw_hash)
SELECT 'u' || g, 'u' || g || '@example.com', 'pbkdf2:sha256:600000$bench$' || md5(g::text)
  FROM generate_series(1, :users) g;
INSERT INTO message (author_id, text, pub_date, flagged)
SELECT 1 + (g * 7919) % :users,
       'a message of typical length, loaded by bench/sync/seed.sql: ' || md5(g::text),
       1700000000 + g, 0
  FROM generate_series(1, :messages) g;
-- distinct pairs, the ones writes.sql unfollows:
-- who = 1 + g % users, whom = 1 + (g * 7 + g / users) % users
INSERT INTO follower (who_id, whom_id)
SELECT 1 + g % :users, 1 + (g * 7 + g / :users) % :users FROM generate_series(1, :follows) g;

CREATE SCHEMA bench;
CREATE TABLE bench.base AS
SELECT (SELECT max(message_id) FROM message) AS max_message,
       (SELECT max(user_id) FROM "user") AS max_user;
CREATE TABLE bench.follower_base AS SELECT * FROM follower;

-- Changes for the apply benchmark: MiniTwit's single-row writes (the mix of
-- writes.sql, plus flagging a message now and then), a transaction every few
-- statements, until the change sequence reaches target.
CREATE PROCEDURE bench.gen(target bigint, seed float8, users int, follows int)
LANGUAGE plpgsql AS $$
DECLARE
    r int;
    a int;
    g int;
    n int := 0;
BEGIN
    PERFORM setseed(seed);
    LOOP
        r := 1 + floor(random() * 100)::int;
        a := 1 + floor(random() * users)::int;
        g := 1 + floor(random() * follows)::int;
        IF r <= 78 THEN
            INSERT INTO message (author_id, text, pub_date, flagged)
            SELECT user_id, 'a message of typical length, written by bench/sync gen: ' || g,
                   1700000000 + g, 0
              FROM "user" WHERE username = 'u' || a;
        ELSIF r <= 80 THEN
            UPDATE message SET flagged = 1
             WHERE message_id = (SELECT max_message FROM bench.base) - g % 1000;
        ELSIF r <= 87 THEN
            INSERT INTO follower (who_id, whom_id)
            SELECT a, 1 + g % users
             WHERE NOT EXISTS (SELECT 1 FROM follower WHERE who_id = a AND whom_id = 1 + g % users);
        ELSIF r <= 90 THEN
            DELETE FROM follower WHERE who_id = 1 + g % users AND whom_id = 1 + (g * 7 + g / users) % users;
        ELSE
            INSERT INTO latest (id, value) VALUES (1, g)
            ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
        END IF;
        n := n + 1;
        IF n % 10 = 0 THEN
            COMMIT;
            EXIT WHEN (SELECT last_value FROM sync_fdw_src.change_seq) >= target;
        END IF;
    END LOOP;
    COMMIT;
END $$;
