/*
 * settings: the table of minitwitd's configuration keys; see settings.h.
 */
#include "settings.h"

#include "banned.h"

#define S(f) offsetof(struct settings, f)

const struct cfg_key settings_keys[] = {
	{ "http", "listen", CFG_STRING, "127.0.0.1:8080", 0, 0, false, false, S(http_listen),
	  "address:port of the API and web listener" },
	{ "http", "threads", CFG_INT, "8", 1, 256, false, false, S(http_threads),
	  "libmicrohttpd worker threads (each may block on one database call)" },
	{ "http", "max_body", CFG_INT, "65536", 1024, 16777216, false, false, S(http_max_body),
	  "largest request body accepted, in bytes; larger ones get 413" },
	{ "http", "max_connections", CFG_INT, "4096", 16, 65536, false, false,
	  S(http_max_connections), "concurrent client connections" },
	{ "http", "timeout", CFG_MILLIS, "30s", 1000, 3600000, false, false, S(http_timeout_ms),
	  "idle client connections are closed after this" },
	{ "http", "public_origin", CFG_STRING, "", 0, 0, false, true, S(http_public_origin),
	  "origin browsers see behind a proxy (\"https://minitwit.example\"); empty: http:// and "
	  "the Host header" },
	{ "http", "trusted_proxies", CFG_STRING, "", 0, 0, false, true, S(http_trusted_proxies),
	  "comma-separated proxy addresses whose X-Forwarded-For names the client" },
	{ "database", "dsn", CFG_STRING, "host=127.0.0.1 port=5432 dbname=minitwit user=minitwit", 0,
	  0, false, false, S(db_dsn),
	  "libpq connection string (no password here: use PGPASSWORD or a pgpass file)" },
	{ "database", "pool_size", CFG_INT, "8", 1, 512, false, false, S(db_pool_size),
	  "PostgreSQL connections; at least http.threads so no worker waits for one" },
	{ "database", "connect_timeout", CFG_MILLIS, "2s", 1000, 60000, false, true,
	  S(db_connect_timeout_ms), "one connection attempt gives up after this" },
	{ "database", "acquire_timeout", CFG_MILLIS, "2s", 10, 60000, false, true,
	  S(db_acquire_timeout_ms), "a request waiting for a connection gets 503 after this" },
	{ "database", "statement_timeout", CFG_MILLIS, "5s", 100, 600000, false, true,
	  S(db_statement_timeout_ms), "a query running longer is cancelled (the request gets 503)" },
	{ "database", "startup_attempts", CFG_INT, "10", 1, 1000, false, false,
	  S(db_startup_attempts), "connection attempts (with backoff) before start-up fails" },
	{ "api", "authorization", CFG_STRING, "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh", 0, 0, true,
	  true, S(api_auth), "exact Authorization header the simulator API requires" },
	{ "api", "max_no", CFG_INT, "10000", 1, 1000000, false, true, S(api_max_no),
	  "largest ?no= honoured; larger values are clamped" },
	{ "password", "memlimit_kib", CFG_INT, "19456", 8, 4194304, false, true,
	  S(pw_memlimit_kib), "argon2id memory per hash in KiB (OWASP minimum: 19456)" },
	{ "password", "opslimit", CFG_INT, "2", 1, 100, false, true, S(pw_opslimit),
	  "argon2id iterations (OWASP minimum with 19 MiB: 2)" },
	{ "password", "max_concurrent", CFG_INT, "2", 1, 256, false, false,
	  S(pw_max_concurrent), "hashes computed at once (bounds memory: each takes memlimit)" },
	{ "web", "session_ttl", CFG_MILLIS, "336h", 60000, 8760LL * 3600000, false, true,
	  S(web_session_ttl_ms), "a sign-in lasts this long (the session row then expires)" },
	{ "web", "anonymous_session_ttl", CFG_MILLIS, "1h", 10000, 24LL * 3600000, false, true,
	  S(web_anon_session_ttl_ms),
	  "sessions of visitors not signed in (form CSRF tokens, flashes) expire after this" },
	{ "web", "cookie_secure", CFG_BOOL, "false", 0, 0, false, true, S(web_cookie_secure),
	  "mark the session cookie Secure (always so when http.public_origin is https)" },
	{ "web", "login_limit_user", CFG_INT, "5", 1, 1000000, false, true, S(web_login_limit_user),
	  "failed sign-ins allowed per user name within web.login_window (then 429)" },
	{ "web", "login_limit_addr", CFG_INT, "20", 1, 1000000, false, true, S(web_login_limit_addr),
	  "failed sign-ins allowed per client address within web.login_window (then 429)" },
	{ "web", "login_window", CFG_MILLIS, "15m", 1000, 24LL * 3600000, false, true,
	  S(web_login_window_ms), "the window of the sign-in limits" },
	{ "web", "max_message", CFG_INT, "1000", 1, 100000, false, true, S(web_max_message),
	  "longest message the web form accepts, in characters (longer: 400)" },
	{ "admin", "listen", CFG_STRING, "127.0.0.1:8081", 0, 0, false, false, S(admin_listen),
	  "address:port of the cutover admin API (on only when MINITWIT_ADMIN_TOKEN is set)" },
	{ "admin", "max_hold", CFG_MILLIS, "2s", 10, 3600000, false, true, S(admin_max_hold_ms),
	  "a pause holding writes longer than this resumes by itself on the current database" },
	{ "log", "level", CFG_STRING, "info", 0, 0, false, true, S(log_level),
	  "debug, info, warn or error" },
};

const size_t settings_nkeys = sizeof settings_keys / sizeof settings_keys[0];
