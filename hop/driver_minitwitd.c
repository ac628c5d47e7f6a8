/*
 * driver_minitwitd: minitwitd's admin API (POST /admin/pause, /admin/switch,
 * /admin/resume with the bearer token), for the entries admin_url (one
 * server) and admin_dns (every address a name resolves to: Swarm's tasks.*,
 * a Kubernetes headless service).  See driver.h for the interface.
 *
 * minitwitd switches and releases its held requests in one call, so
 * switch_to only records where resume sends them; for admin_dns it first
 * resolves the name again: a replica that appeared since the pause is
 * paused before the switch (or the switch fails and the cutover rolls
 * back), one that vanished is reported (it resumes by itself after
 * max_hold_ms, meets the fence and follows it).  Every server of an entry
 * is called at once (libcurl multi).
 *
 * Testing aid: MIGRATE_HOSTS_FILE names a file in /etc/hosts format that
 * admin_dns resolves names from instead of the system's resolver.
 */
#include "driver.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "dsn.h"
#include "util.h"
#include "banned.h"

struct mt_server {
	char *url;		/* http://addr:port, or the admin_url */
	struct buf resp;
	long status;
	bool ok;		/* last call: 2xx */
	double ms;
	char err[CURL_ERROR_SIZE];
	json_t *json;		/* last answer, or NULL */
	bool added;		/* admin_dns: appeared during the pause */
	bool vanished;		/* admin_dns: gone from the name before the switch */
	bool switched;		/* /admin/switch answered 2xx */
};

struct mt {
	struct mt_server *v;
	size_t n;
	char *switch_dsn;	/* where resume sends held requests; NULL: stay */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	if (b->len + size * n > 1 << 20)
		return 0;	/* an admin answer is small: refuse a flood */
	buf_add(b, p, size * n);
	return size * n;
}

/* Run method path on the servers in calls concurrently; false when any failed. */
static bool call_all(struct mt_server **calls, size_t n, const char *method, const char *path,
		     const char *body, const char *token, long timeout_ms)
{
	CURLM *m = curl_multi_init();
	CURL **easy = calloc(n ? n : 1, sizeof *easy);
	struct curl_slist *hdrs = NULL;
	struct buf auth = BUF_INIT, url = BUF_INIT;
	bool all = true;
	double t0 = mono_ms_f();

	if (!m || !easy)
		abort();
	buf_addf(&auth, "Authorization: Bearer %s", token ? token : "");
	hdrs = curl_slist_append(hdrs, auth.data);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	for (size_t i = 0; i < n; i++) {
		struct mt_server *c = calls[i];
		buf_release(&c->resp);
		json_decref(c->json);
		c->json = NULL;
		c->status = 0;
		c->ok = false;
		c->err[0] = '\0';
		buf_reset(&url);
		buf_adds(&url, c->url);
		while (url.len && url.data[url.len - 1] == '/')
			url.data[--url.len] = '\0';
		buf_adds(&url, path);
		CURL *e = easy[i] = curl_easy_init();
		curl_easy_setopt(e, CURLOPT_URL, url.data);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
		if (body)
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->resp);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->err);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_PRIVATE, c);
		curl_multi_add_handle(m, e);
	}
	int running = 1;
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct mt_server *c;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->status);
			c->ms = mono_ms_f() - t0;
			if (msg->data.result != CURLE_OK && !c->err[0])
				snprintf(c->err, sizeof c->err, "%s", curl_easy_strerror(msg->data.result));
			c->ok = msg->data.result == CURLE_OK && c->status >= 200 && c->status < 300;
			json_error_t je;
			if (c->resp.len)
				c->json = json_loadb(c->resp.data, c->resp.len, 0, &je);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct mt_server *c = calls[i];
		if (!c->ok) {
			all = false;
			const char *msg = c->json ? json_string_value(json_object_get(c->json, "error")) : NULL;
			struct buf shown = BUF_INIT;	/* an admin_url may carry a secret */
			dsn_mask_url(c->url, &shown);
			if (c->status)
				log_error("%s %s on \"%s\" failed: HTTP status %ld%s%s", method, path,
					  buf_str(&shown), c->status, msg ? ": " : "", msg ? msg : "");
			else
				log_error("%s %s on \"%s\" failed: %s", method, path, buf_str(&shown), c->err);
			buf_release(&shown);
		}
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	free(easy);
	curl_slist_free_all(hdrs);
	curl_multi_cleanup(m);
	if (auth.data)
		memset(auth.data, 0, auth.len);
	buf_release(&auth);
	buf_release(&url);
	return all;
}

static int64_t json_int(const json_t *j, const char *key)
{
	const json_t *v = j ? json_object_get(j, key) : NULL;
	return json_is_integer(v) ? (int64_t)json_integer_value(v) :
	       json_is_real(v) ? (int64_t)json_real_value(v) : -1;
}

/* ---- admin_dns: the name's addresses ---- */

struct names {
	char **v;
	size_t n;
};

static void names_add(struct names *l, const char *addr, const char *port)
{
	struct buf u = BUF_INIT;
	buf_addf(&u, strchr(addr, ':') ? "http://[%s]:%s" : "http://%s:%s", addr, port);
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], u.data) == 0) {
			buf_release(&u);
			return;
		}
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		abort();
	l->v = v;
	l->v[l->n++] = buf_detach(&u);
}

static void names_release(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool names_has(const struct names *l, const char *url)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], url) == 0)
			return true;
	return false;
}

/* The addresses of host in an /etc/hosts-format file. */
static bool resolve_file(const char *path, const char *host, const char *port, struct names *out)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	if (!f) {
		log_error("could not open MIGRATE_HOSTS_FILE \"%s\": %m", path);
		return false;
	}
	while (fgets(line, sizeof line, f)) {
		char *hash = strchr(line, '#'), *save = NULL;
		if (hash)
			*hash = '\0';
		char *addr = strtok_r(line, " \t\r\n", &save);
		for (char *name; addr && (name = strtok_r(NULL, " \t\r\n", &save)) != NULL;)
			if (strcasecmp(name, host) == 0)
				names_add(out, addr, port);
	}
	fclose(f);
	return true;
}

/* Resolve "name:port" into admin URLs, one per address; false on a
 * resolver error (logged).  No address at all is not an error here. */
static bool resolve(const char *hostport, struct names *out)
{
	const char *colon = strrchr(hostport, ':');
	char *host = strndup(hostport, (size_t)(colon - hostport));
	const char *port = colon + 1;
	const char *file = getenv("MIGRATE_HOSTS_FILE");
	bool ok = false;

	if (!host)
		abort();
	names_release(out);
	if (file && *file) {
		ok = resolve_file(file, host, port, out);
		goto out;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME || rc == EAI_NODATA) {
		ok = true;
		goto out;
	}
	if (rc != 0) {
		log_error("could not resolve \"%s\": %s", host, gai_strerror(rc));
		goto out;
	}
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		char addr[INET6_ADDRSTRLEN];
		const void *p = a->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
							  : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
		if (inet_ntop(a->ai_family, p, addr, sizeof addr))
			names_add(out, addr, port);
	}
	freeaddrinfo(res);
	ok = true;
out:
	free(host);
	return ok;
}

/* ---- the driver ---- */

static struct mt *mt_of(struct driver *d)
{
	return driver_priv(d, sizeof(struct mt));
}

static void mt_clear(struct mt *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].url);
		buf_release(&m->v[i].resp);
		json_decref(m->v[i].json);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static struct mt_server *mt_add(struct mt *m, const char *url)
{
	struct mt_server *v = realloc(m->v, (m->n + 1) * sizeof *v);
	if (!v)
		abort();
	m->v = v;
	memset(&m->v[m->n], 0, sizeof m->v[m->n]);
	m->v[m->n].url = xstrdup(url);
	m->v[m->n].resp = (struct buf)BUF_INIT;
	return &m->v[m->n++];
}

/* The servers to call: all but the vanished (and, when only_added, the added). */
static size_t mt_pick(struct mt *m, struct mt_server ***out, bool only_added)
{
	size_t k = 0;
	*out = calloc(m->n ? m->n : 1, sizeof **out);
	if (!*out)
		abort();
	for (size_t i = 0; i < m->n; i++)
		if (!m->v[i].vanished && (!only_added || m->v[i].added))
			(*out)[k++] = &m->v[i];
	return k;
}

/* Fill the server list: the admin_url, or the name's addresses now. */
static bool mt_load(struct driver *d, struct mt *m)
{
	mt_clear(m);
	if (d->cfg->kind == HOP_SERVER_ADMIN_URL) {
		mt_add(m, d->cfg->admin_url);
		return true;
	}
	struct names l = { NULL, 0 };
	bool ok = resolve(d->cfg->admin_dns, &l);
	for (size_t i = 0; ok && i < l.n; i++)
		mt_add(m, l.v[i]);
	names_release(&l);
	return ok;
}

static bool mt_preflight(struct driver *d, struct buf *why)
{
	struct mt *m = mt_of(d);
	struct mt_server **c = NULL;
	struct buf name = BUF_INIT;	/* what the problem names: no secret of admin_url */
	bool ok = false;

	dsn_mask_text(d->cfg->admin_url ? d->cfg->admin_url : d->cfg->admin_dns, &name);
	if (!d->ctx->token || !*d->ctx->token) {
		buf_addf(why, "the admin token is not set (environment variable %s); ", d->ctx->token_env);
		goto out;
	}
	if (!mt_load(d, m)) {
		buf_addf(why, "admin_dns \"%s\" does not resolve (see the log); ", buf_str(&name));
		goto out;
	}
	if (m->n == 0) {
		buf_addf(why, "admin_dns \"%s\" resolves to no address; ", buf_str(&name));
		goto out;
	}
	size_t n = mt_pick(m, &c, false);
	ok = call_all(c, n, "GET", "/admin/status", NULL, d->ctx->token, 3000);
	if (!ok)
		buf_addf(why, "a server's admin API does not answer (%s; see the log); ", buf_str(&name));
	free(c);
out:
	buf_release(&name);
	return ok;
}

static char *pause_body(const struct driver *d)
{
	json_t *j = json_pack("{s:I}", "max_hold_ms", (json_int_t)d->ctx->max_hold_ms);
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return body;
}

static bool mt_pause(struct driver *d, long timeout_ms)
{
	struct mt *m = mt_of(d);
	struct mt_server **c = NULL;
	char *body = pause_body(d);
	bool ok = false;

	if (!mt_load(d, m))
		goto out;
	if (m->n == 0) {
		log_error("admin_dns \"%s\" resolves to no address: nothing to pause", d->cfg->admin_dns);
		goto out;
	}
	size_t n = mt_pick(m, &c, false);
	ok = call_all(c, n, "POST", "/admin/pause", body, d->ctx->token, timeout_ms);
out:
	free(c);
	free(body);
	return ok;
}

/* admin_dns before the switch: pause the replicas that appeared, mark the
 * ones that vanished. */
static bool mt_recheck(struct driver *d, struct mt *m, long timeout_ms)
{
	struct names now = { NULL, 0 };
	struct mt_server **c = NULL;
	char *body = NULL;
	bool ok = false;

	if (!resolve(d->cfg->admin_dns, &now))
		goto out;
	for (size_t i = 0; i < m->n; i++) {
		bool gone = !names_has(&now, m->v[i].url);
		if (gone && !m->v[i].vanished)
			log_warn("replica \"%s\" of \"%s\" vanished during the pause: not switched; if it "
				 "still runs it resumes by itself after max_hold_ms and meets the fence",
				 m->v[i].url, d->cfg->admin_dns);
		m->v[i].vanished = gone;
	}
	size_t before = m->n;
	for (size_t i = 0; i < now.n; i++) {
		bool known = false;
		for (size_t k = 0; k < before; k++)
			known = known || strcmp(m->v[k].url, now.v[i]) == 0;
		if (!known) {
			mt_add(m, now.v[i])->added = true;
			log_info("replica \"%s\" of \"%s\" appeared during the pause: pausing it before the "
				 "switch", now.v[i], d->cfg->admin_dns);
		}
	}
	ok = true;
	if (m->n > before) {
		size_t n = mt_pick(m, &c, true);
		body = pause_body(d);
		ok = call_all(c, n, "POST", "/admin/pause", body, d->ctx->token, timeout_ms);
	}
out:
	names_release(&now);
	free(c);
	free(body);
	return ok;
}

static bool mt_switch(struct driver *d, const char *dsn, long timeout_ms)
{
	struct mt *m = mt_of(d);
	free(m->switch_dsn);
	m->switch_dsn = NULL;
	if (driver_going_back(d, dsn))
		return true;	/* back: resume stays where it is */
	if (d->cfg->kind == HOP_SERVER_ADMIN_DNS && !mt_recheck(d, m, timeout_ms))
		return false;
	m->switch_dsn = xstrdup(dsn);
	return true;
}

static bool mt_resume(struct driver *d, long timeout_ms)
{
	struct mt *m = mt_of(d);
	struct mt_server **c = NULL;
	char *body = NULL;
	size_t n = mt_pick(m, &c, false);
	bool ok;

	if (m->switch_dsn) {
		json_t *j = json_pack("{s:s}", "dsn", m->switch_dsn);
		body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		ok = call_all(c, n, "POST", "/admin/switch", body, d->ctx->token, timeout_ms);
		for (size_t i = 0; i < n; i++)
			c[i]->switched = c[i]->ok;
		if (!ok)
			log_error("a server did not switch: it resumes on the old host after max_hold_ms, "
				  "meets the fence and follows it to the target");
	} else {
		ok = call_all(c, n, "POST", "/admin/resume", NULL, d->ctx->token, timeout_ms);
		if (!ok)
			log_error("a server could not be resumed: it resumes by itself after max_hold_ms");
	}
	free(c);
	free(body);
	return ok;
}

static void mt_report(struct driver *d, json_t *arr, double *max_hold)
{
	struct mt *m = mt_of(d);
	for (size_t i = 0; i < m->n; i++) {
		const struct mt_server *s = &m->v[i];
		int64_t held = s->vanished ? -1 : json_int(s->json, "held_ms");
		struct buf shown = BUF_INIT;	/* reports are printed and stored */
		dsn_mask_url(s->url, &shown);
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:f}", "kind", d->ops->kind,
				      "name", buf_str(&shown), "admin_url", buf_str(&shown),
				      "switched", s->switched,
				      "held_ms", (json_int_t)held, "released",
				      (json_int_t)(s->vanished ? -1 : json_int(s->json, "released")),
				      "call_ms", s->ms);
		if (s->vanished || s->added)
			json_object_set_new(o, "note", json_string(s->vanished ? "vanished during the pause: not "
									       "switched" :
									       "appeared during the pause: "
									       "paused before the switch"));
		if (d->cfg->kind == HOP_SERVER_ADMIN_DNS) {
			json_object_set_new(o, "admin_dns", json_string(d->cfg->admin_dns));
			json_object_set_new(o, "added_during_pause", json_boolean(s->added));
			json_object_set_new(o, "vanished", json_boolean(s->vanished));
		}
		json_array_append_new(arr, o);
		buf_release(&shown);
		if ((double)held > *max_hold)
			*max_hold = (double)held;
	}
}

static void mt_close(struct driver *d)
{
	struct mt *m = d->priv;
	if (!m)
		return;
	mt_clear(m);
	free(m->switch_dsn);
	free(m);
	d->priv = NULL;
}

const struct driver_ops driver_minitwitd_ops = {
	.kind = "minitwitd",
	.preflight = mt_preflight,
	.pause = mt_pause,
	.switch_to = mt_switch,
	.resume = mt_resume,
	.report = mt_report,
	.close = mt_close,
};
