/*
 * queries: the prepared statements; see queries.h.
 *
 * Timelines page with a keyset cursor (pub_date, message_id) matching the
 * indexes message_public_idx and message_author_idx, so page N costs what
 * page 1 costs.  Messages without a pub_date (none are written by minitwitd
 * or the legacy application) sort outside every cursor and are not shown.
 */
#include "queries.h"

#include "banned.h"

/* columns of every timeline row: message_id, text, pub_date, username, email */
/* kinds (db.h): a request that ran a DB_STMT_WRITE is never retried on a
 * new host after hitting the old one's fence; idempotent writes may run twice */
#define MSG_COLS "m.message_id, m.text, m.pub_date, u.username, u.email"

const struct db_stmt queries[Q_COUNT] = {
	[Q_SET_LATEST] = { "set_latest",
		"INSERT INTO latest (id, value) VALUES (1, $1) "
		"ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value", 1, DB_STMT_IDEMPOTENT },
	[Q_GET_LATEST] = { "get_latest", "SELECT value FROM latest WHERE id = 1", 0 },
	[Q_USER_EXISTS] = { "user_exists", "SELECT 1 FROM \"user\" WHERE username = $1", 1 },
	[Q_REGISTER] = { "register",
		"INSERT INTO \"user\" (username, email, pw_hash) VALUES ($1, $2, $3)", 3, DB_STMT_WRITE },
	[Q_MSGS] = { "msgs",
		"SELECT m.text, m.pub_date, u.username FROM message m "
		"JOIN \"user\" u ON u.user_id = m.author_id WHERE m.flagged = 0 "
		"ORDER BY m.pub_date DESC, m.message_id DESC LIMIT $1", 1 },
	/* one round trip: no row = unknown user, a NULL text = no messages */
	[Q_MSGS_USER] = { "msgs_user",
		"SELECT m.text, m.pub_date, u.username FROM \"user\" u "
		"LEFT JOIN LATERAL (SELECT text, pub_date, message_id FROM message "
		"  WHERE author_id = u.user_id AND flagged = 0 "
		"  ORDER BY pub_date DESC, message_id DESC LIMIT $2) m ON true "
		"WHERE u.username = $1 ORDER BY m.pub_date DESC, m.message_id DESC", 2 },
	[Q_POST_MSG] = { "post_msg",
		"INSERT INTO message (author_id, text, pub_date, flagged) "
		"SELECT user_id, $2, $3, 0 FROM \"user\" WHERE username = $1", 3, DB_STMT_WRITE },
	/* who and whom come back NULL when unknown (404); following twice
	 * leaves one row */
	[Q_FOLLOW] = { "follow",
		"WITH a AS (SELECT user_id FROM \"user\" WHERE username = $1), "
		"b AS (SELECT user_id FROM \"user\" WHERE username = $2), "
		"ins AS (INSERT INTO follower (who_id, whom_id) SELECT a.user_id, b.user_id FROM a, b "
		"  WHERE NOT EXISTS (SELECT 1 FROM follower f "
		"    WHERE f.who_id = a.user_id AND f.whom_id = b.user_id) RETURNING 1) "
		"SELECT (SELECT user_id FROM a), (SELECT user_id FROM b), (SELECT count(*) FROM ins)", 2, DB_STMT_IDEMPOTENT },
	[Q_UNFOLLOW] = { "unfollow",
		"WITH a AS (SELECT user_id FROM \"user\" WHERE username = $1), "
		"b AS (SELECT user_id FROM \"user\" WHERE username = $2), "
		"del AS (DELETE FROM follower f USING a, b "
		"  WHERE f.who_id = a.user_id AND f.whom_id = b.user_id RETURNING 1) "
		"SELECT (SELECT user_id FROM a), (SELECT user_id FROM b), (SELECT count(*) FROM del)", 2, DB_STMT_IDEMPOTENT },
	/* by the followed user's name in byte order (COLLATE "C"): a stable,
	 * documented order that no database's locale and no hop's id remapping
	 * changes (the reference leaves it to SQLite's plan) */
	[Q_FOLLOWS] = { "follows",
		"SELECT w.username FROM \"user\" u "
		"LEFT JOIN LATERAL (SELECT x.username FROM follower f "
		"  JOIN \"user\" x ON x.user_id = f.whom_id WHERE f.who_id = u.user_id "
		"  ORDER BY x.username COLLATE \"C\" LIMIT $2) w ON true "
		"WHERE u.username = $1 ORDER BY w.username COLLATE \"C\"", 2 },
	[Q_PING] = { "ping", "SELECT 1", 0 },

	/* ---- web sessions (websess.c); $1 of the lookups is the SHA-256 of
	 * the cookie's token as bytea, never the token */
	/* a session whose user was deleted comes back with a NULL username and
	 * is treated as anonymous */
	[Q_SESSION_GET] = { "session_get",
		"SELECT s.session_id, s.user_id, u.username, s.csrf_token, "
		"  CASE WHEN s.flashes = '[]' THEN NULL ELSE s.flashes::text END "
		"FROM web_session s LEFT JOIN \"user\" u ON u.user_id = s.user_id "
		"WHERE s.token_hash = $1 AND s.expires_at > $2", 2 },
	[Q_SESSION_NEW] = { "session_new",
		"INSERT INTO web_session (token_hash, user_id, csrf_token, flashes, created_at, expires_at) "
		"VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING session_id", 6, DB_STMT_WRITE },
	[Q_SESSION_DELETE] = { "session_delete", "DELETE FROM web_session WHERE session_id = $1", 1, DB_STMT_IDEMPOTENT },
	[Q_SESSION_FLASH_ADD] = { "session_flash_add",
		"UPDATE web_session SET flashes = flashes || jsonb_build_array($2::text) "
		"WHERE session_id = $1", 2, DB_STMT_WRITE },
	/* take the flashes and empty them in one statement: a flash is shown
	 * once even when two pages load at the same time */
	[Q_SESSION_FLASH_POP] = { "session_flash_pop",
		"UPDATE web_session s SET flashes = '[]' "
		"FROM (SELECT session_id, flashes FROM web_session WHERE session_id = $1 FOR UPDATE) o "
		"WHERE s.session_id = o.session_id RETURNING o.flashes::text", 1, DB_STMT_IDEMPOTENT },
	[Q_SESSION_GC] = { "session_gc",
		"DELETE FROM web_session WHERE session_id IN "
		"(SELECT session_id FROM web_session WHERE expires_at <= $1 LIMIT 1000)", 1, DB_STMT_IDEMPOTENT },

	/* ---- web pages (web.c) */
	[Q_WEB_LOGIN_USER] = { "web_login_user",
		"SELECT user_id, pw_hash FROM \"user\" WHERE username = $1", 1 },
	/* only when nobody changed it meanwhile */
	[Q_WEB_PW_UPGRADE] = { "web_pw_upgrade",
		"UPDATE \"user\" SET pw_hash = $3 WHERE user_id = $1 AND pw_hash = $2", 3, DB_STMT_IDEMPOTENT },
	/* $1, $2: cursor (pub_date, message_id), exclusive; $3: limit */
	[Q_WEB_PUBLIC] = { "web_public",
		"SELECT " MSG_COLS " FROM message m JOIN \"user\" u ON u.user_id = m.author_id "
		"WHERE m.flagged = 0 AND (m.pub_date, m.message_id) < ($1::integer, $2::integer) "
		"ORDER BY m.pub_date DESC, m.message_id DESC LIMIT $3", 3 },
	/* $1 username, $2 viewer's user_id (0 when signed out), $3, $4 cursor,
	 * $5 limit.  No row: unknown user; one row with a NULL message_id: a
	 * user without messages.  Columns: the timeline's, then user_id and
	 * whether the viewer follows them. */
	[Q_WEB_USER_PAGE] = { "web_user_page",
		"SELECT " MSG_COLS ", u.user_id, "
		"  EXISTS (SELECT 1 FROM follower f WHERE f.who_id = $2::integer AND f.whom_id = u.user_id) "
		"FROM \"user\" u LEFT JOIN LATERAL (SELECT message_id, text, pub_date FROM message "
		"  WHERE author_id = u.user_id AND flagged = 0 "
		"  AND (pub_date, message_id) < ($3::integer, $4::integer) "
		"  ORDER BY pub_date DESC, message_id DESC LIMIT $5) m ON true "
		"WHERE u.username = $1 ORDER BY m.pub_date DESC, m.message_id DESC", 5 },
	/* own messages and those of followed users: the newest $4 of each
	 * author through message_author_idx, merged; never a scan of message.
	 * UNION drops duplicate follower rows (the table has no key). */
	[Q_WEB_MY_TIMELINE] = { "web_my_timeline",
		"SELECT " MSG_COLS " FROM "
		"  (SELECT $1::integer AS author_id UNION "
		"   SELECT whom_id FROM follower WHERE who_id = $1::integer) a "
		"CROSS JOIN LATERAL (SELECT message_id, text, pub_date, author_id FROM message "
		"  WHERE author_id = a.author_id AND flagged = 0 "
		"  AND (pub_date, message_id) < ($2::integer, $3::integer) "
		"  ORDER BY pub_date DESC, message_id DESC LIMIT $4) m "
		"JOIN \"user\" u ON u.user_id = m.author_id "
		"ORDER BY m.pub_date DESC, m.message_id DESC LIMIT $4", 4 },
	/* $1 who (user_id), $2 whom (username); returns whom's id, NULL when
	 * unknown.  Following twice leaves one row, as the API. */
	[Q_WEB_FOLLOW] = { "web_follow",
		"WITH b AS (SELECT user_id FROM \"user\" WHERE username = $2), "
		"ins AS (INSERT INTO follower (who_id, whom_id) SELECT $1::integer, b.user_id FROM b "
		"  WHERE NOT EXISTS (SELECT 1 FROM follower f "
		"    WHERE f.who_id = $1::integer AND f.whom_id = b.user_id) RETURNING 1) "
		"SELECT (SELECT user_id FROM b), (SELECT count(*) FROM ins)", 2, DB_STMT_IDEMPOTENT },
	[Q_WEB_UNFOLLOW] = { "web_unfollow",
		"WITH b AS (SELECT user_id FROM \"user\" WHERE username = $2), "
		"del AS (DELETE FROM follower f USING b "
		"  WHERE f.who_id = $1::integer AND f.whom_id = b.user_id RETURNING 1) "
		"SELECT (SELECT user_id FROM b), (SELECT count(*) FROM del)", 2, DB_STMT_IDEMPOTENT },
	[Q_WEB_ADD_MESSAGE] = { "web_add_message",
		"INSERT INTO message (author_id, text, pub_date, flagged) VALUES ($1, $2, $3, 0)", 3, DB_STMT_WRITE },
};
