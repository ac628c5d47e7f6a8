/*
 * settings: minitwitd's configuration keys (one table row each) and the
 * struct they fill.  config/minitwitd.yaml documents every key; each can be
 * overridden as MINITWIT_<SECTION>_<KEY>.
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

struct settings {
	/* http */
	char *http_listen;		/* "127.0.0.1:8080" */
	int64_t http_threads;
	int64_t http_max_body;		/* bytes; larger bodies get 413 */
	int64_t http_max_connections;
	int64_t http_timeout_ms;	/* idle connection timeout */
	char *http_public_origin;	/* "https://minitwit.example" behind a proxy; "" = Host */
	char *http_trusted_proxies;	/* "127.0.0.1, ::1": may set X-Forwarded-For */
	/* database */
	char *db_dsn;
	int64_t db_pool_size;
	int64_t db_connect_timeout_ms;
	int64_t db_acquire_timeout_ms;
	int64_t db_statement_timeout_ms;
	int64_t db_startup_attempts;
	char *db_allowed_hosts;		/* "db1.internal, 10.0.0.7": where a switch may go; "" = dsn's */
	/* api */
	char *api_auth;			/* the Authorization header value the simulator sends */
	int64_t api_max_no;
	/* password */
	int64_t pw_memlimit_kib;
	int64_t pw_opslimit;
	int64_t pw_max_concurrent;
	int64_t pw_hash_threads;	/* threads hashing sign-ups (hashq.h); 0 = one per CPU */
	int64_t pw_hash_queue;		/* sign-ups waiting for them; more get 503 */
	/* web */
	int64_t web_session_ttl_ms;	/* signed-in sessions end after this */
	int64_t web_anon_session_ttl_ms; /* anonymous (CSRF/flash-only) sessions */
	bool web_cookie_secure;		/* add "Secure" to the session cookie (HTTPS) */
	int64_t web_login_limit_user;	/* failures per (client, user name) before delays */
	int64_t web_login_limit_addr;	/* failed sign-ins per client address per window */
	int64_t web_login_window_ms;	/* the client's window; quiet time that forgets */
	int64_t web_login_delay_ms;	/* first delay of a (client, user name); doubles */
	int64_t web_login_max_delay_ms;
	int64_t web_max_message;	/* characters in a posted message */
	int64_t web_signup_limit;	/* web sign-ups per client address per window */
	int64_t web_signup_window_ms;
	/* admin (the token comes from MINITWIT_ADMIN_TOKEN only, never a key) */
	char *admin_listen;		/* "127.0.0.1:8081" */
	int64_t admin_max_hold_ms;	/* a pause longer than this resumes by itself */
	/* metrics */
	char *metrics_listen;		/* "127.0.0.1:9100"; "" = /metrics on http.listen */
	/* log */
	char *log_level;
};

extern const struct cfg_key settings_keys[];
extern const size_t settings_nkeys;

#endif
