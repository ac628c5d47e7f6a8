/*
 * static: embedded static files; see static.h.
 */
#include "static.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

#define STATIC_MAX 16

static struct {
	char etag[19];		/* "\"" + 16 hex + "\"" */
	char href[128];
} static_meta[STATIC_MAX];
static pthread_once_t static_once = PTHREAD_ONCE_INIT;

static void static_prepare(void)
{
	for (unsigned i = 0; i < static_files_count && i < STATIC_MAX; i++) {
		unsigned char h[crypto_generichash_BYTES];
		char hex[2 * sizeof h + 1];
		crypto_generichash(h, sizeof h, (const unsigned char *)static_files[i].text,
				   static_files[i].len, NULL, 0);
		sodium_bin2hex(hex, sizeof hex, h, sizeof h);
		snprintf(static_meta[i].etag, sizeof static_meta[i].etag, "\"%.16s\"", hex);
		snprintf(static_meta[i].href, sizeof static_meta[i].href, "/static/%s?v=%.16s",
			 static_files[i].name, hex);
	}
}

static int static_find(const char *name)
{
	for (unsigned i = 0; i < static_files_count && i < STATIC_MAX; i++)
		if (strcmp(static_files[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *static_href(const char *name)
{
	pthread_once(&static_once, static_prepare);
	int i = static_find(name);
	return i < 0 ? "/static/missing" : static_meta[i].href;
}

static const char *static_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (dot && strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (dot && strcmp(dot, ".png") == 0)
		return "image/png";
	if (dot && strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	return "application/octet-stream";
}

bool static_handle(struct http_req *req, struct http_resp *resp)
{
	const char *name = route_tail(req->target.path, "/static/");
	if (!name)
		return false;
	pthread_once(&static_once, static_prepare);
	int i = static_find(name);
	if (i < 0)
		return false;	/* the web UI's 404 page */
	const struct embedded_file *f = &static_files[i];
	const char *etag = static_meta[i].etag;
	const char *v = route_param(&req->target.query, "v");
	bool versioned = v && strlen(v) == 16 && strncmp(v, etag + 1, 16) == 0;
	resp->content_type = static_type(f->name);
	http_resp_header(resp, "ETag", etag);
	http_resp_header(resp, "Cache-Control",
			 versioned ? "public, max-age=31536000, immutable" : "public, max-age=300");
	http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	const char *inm = http_header(req, "If-None-Match");
	if (inm && strstr(inm, etag)) {
		resp->status = 304;
		return true;
	}
	resp->status = 200;
	buf_add(&resp->body, f->text, f->len);
	return true;
}
