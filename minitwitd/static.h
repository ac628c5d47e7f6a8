/*
 * static: the web UI's static files (static/ in the source tree), embedded
 * in the binary at build time and served under /static/<name>.
 *
 * Caching: each file's ETag is a hash of its content.  Pages link to
 * "/static/<name>?v=<etag>" (static_href), and a request carrying the
 * current version is cacheable for a year as immutable: a new build changes
 * the link, never the content behind an old one.  Other requests get a
 * short max-age and revalidate with If-None-Match (304).
 */
#ifndef STATIC_H
#define STATIC_H

#include <stdbool.h>

#include "embedded.h"
#include "http.h"

extern const struct embedded_file static_files[];
extern const unsigned static_files_count;

/* "/static/style.css?v=1a2b3c4d5e6f7a8b" for a known file, else "/static/<name>". */
const char *static_href(const char *name);

/* Answer req when its path is /static/<name>; false when it is not. */
bool static_handle(struct http_req *req, struct http_resp *resp);

#endif
