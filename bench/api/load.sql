-- Benchmark data for bench/api/run, loaded into the schema minitwitd created
-- (sql/schema/001_minitwit.sql, unchanged).  psql variables:
--   :messages   number of messages (1000000 by default in bench/api/run)
--   :texts      optional: a table (n 1..N, text) to draw the texts from
--               instead of a repeated lorem ipsum
-- Deterministic: setseed() makes every run load the same data.
--
--   users      10,000 named user1 .. user10000 (the benchmark scripts rotate
--              over these names), a fixed argon2id-looking pw_hash
--   messages   authors skewed (a few prolific authors write most, many write
--              little), pub_date increasing over the two years before now
--              with jitter, ~1% flagged, texts 20-140 characters of lorem
--              ipsum (or the :texts table's, drawn uniformly)
--   follows    ~50 per user on average, log-normal per user (most follow a
--              few dozen, some hundreds), followees skewed towards the
--              prolific authors, no duplicates, nobody follows themselves
\set ON_ERROR_STOP on
SELECT setseed(0.42);

INSERT INTO "user" (user_id, username, email, pw_hash)
SELECT g, 'user' || g, 'user' || g || '@example.com',
       '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0YmVuY2hzYWx0$'
       || 'a8Xf0bQ3Yz1k2JqX9sV7nM4rT6uW5eL0pH3cG8dF1aB'
FROM generate_series(1, 10000) AS g;
-- the identity must continue after the explicit ids (POST /register)
SELECT setval(pg_get_serial_sequence('"user"', 'user_id'), 10000);

-- Authors: rank = floor(10000 * u^3) puts ~22% of the messages on the top
-- 1% of authors and ~46% on the top 10%; every rank gets some.
\if :{?texts}
-- Texts drawn at random from the table :texts (n 1..N, text), which the
-- caller loads (bench/copy/run: the scenario's tweets, so
-- that the texts are as long and as compressible as MiniTwit's).
INSERT INTO message (author_id, text, pub_date, flagged)
SELECT s.author_id, x.text, s.pub_date, s.flagged
FROM (SELECT g, (floor(10000 * random() ^ 3)::int * 7919) % 10000 + 1 AS author_id,
             1 + floor(random() * (SELECT count(*) FROM :texts))::int AS k,
             t.t0 + floor(g * t.step + random() * t.step * 4)::int AS pub_date,
             (random() < 0.01)::int AS flagged
      FROM (SELECT extract(epoch FROM now())::int - 2 * 365 * 86400 - 3600 AS t0,
                   (2 * 365 * 86400)::float8 / :messages AS step) t,
           generate_series(1, :messages) AS g
      OFFSET 0) s	-- a fence: random() once per row
JOIN :texts x ON x.n = s.k
ORDER BY s.g;
\else
INSERT INTO message (author_id, text, pub_date, flagged)
SELECT (floor(10000 * random() ^ 3)::int * 7919) % 10000 + 1,
       substr(t.lorem, 1 + (g * 37) % 400, 20 + floor(random() * 121)::int),
       t.t0 + floor(g * t.step + random() * t.step * 4)::int,
       (random() < 0.01)::int
FROM (SELECT extract(epoch FROM now())::int - 2 * 365 * 86400 - 3600 AS t0,
             (2 * 365 * 86400)::float8 / :messages AS step,
             repeat('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do '
                    'eiusmod tempor incididunt ut labore et dolore magna aliqua. "Ut" '
                    'enim ad minim veniam, quis nostrud exercitation ullamco laboris '
                    'nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in '
                    'reprehenderit in voluptate velit esse cillum dolore eu fugiat '
                    'nulla pariatur. Excepteur sint occaecat cupidatat non proident, '
                    'sunt in culpa qui officia deserunt mollit anim id est laborum. ', 2) AS lorem) t,
     generate_series(1, :messages) AS g;
\endif

-- Follows: per user a log-normal count (median 25, mean ~51, capped at
-- 2000) of followees drawn with rank = floor(10000 * u^2).  Drawing with
-- replacement gives some duplicates, removed by DISTINCT.
INSERT INTO follower (who_id, whom_id)
SELECT DISTINCT who_id, whom_id
FROM (SELECT f.who_id, (floor(10000 * random() ^ 2)::int * 7919) % 10000 + 1 AS whom_id
      FROM (SELECT g AS who_id,
                   least(2000, floor(exp(ln(25) + 1.2 * sqrt(-2 * ln(1 - random()))
                                         * cos(2 * pi() * random())))::int) AS n
            FROM generate_series(1, 10000) AS g) f,
           generate_series(1, f.n) AS i
      OFFSET 0) d	-- a fence: whom_id is drawn once per row
WHERE whom_id <> who_id;

VACUUM (ANALYZE) "user", message, follower, latest;
