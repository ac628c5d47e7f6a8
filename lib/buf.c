/*
 * buf: growable byte buffer; see buf.h.
 */
#include "buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

void buf_grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		fputs("fatal: out of memory\n", stderr);
		abort();
	}
	b->data = p;
	b->cap = cap;
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
	buf_grow(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	buf_grow(b, 64);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (n < 0)
			return;
	}
	b->len += (size_t)n;
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void buf_add_int(struct buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
	buf_add(b, tmp, (size_t)n);
}

static const char hexdigits[] = "0123456789abcdef";

/* The JSON escape of one ASCII byte that cannot stand as itself. */
static void add_json_escape(struct buf *b, unsigned char c)
{
	switch (c) {
	case '"': buf_add(b, "\\\"", 2); break;
	case '\\': buf_add(b, "\\\\", 2); break;
	case '\n': buf_add(b, "\\n", 2); break;
	case '\r': buf_add(b, "\\r", 2); break;
	case '\t': buf_add(b, "\\t", 2); break;
	case '\b': buf_add(b, "\\b", 2); break;
	case '\f': buf_add(b, "\\f", 2); break;
	default: {
		char u[6] = { '\\', 'u', '0', '0', hexdigits[c >> 4], hexdigits[c & 15] };
		buf_add(b, u, 6);
	}
	}
}

static void add_u16(struct buf *b, uint32_t unit)
{
	char u[6] = { '\\', 'u', hexdigits[(unit >> 12) & 15], hexdigits[(unit >> 8) & 15],
		      hexdigits[(unit >> 4) & 15], hexdigits[unit & 15] };
	buf_add(b, u, 6);
}

void buf_add_json_str(struct buf *b, const char *s, size_t len)
{
	buf_grow(b, len + 2);
	buf_addc(b, '"');
	size_t run = 0;		/* start of the pending run of plain bytes */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(b, s + run, i - run);
		add_json_escape(b, c);
		run = i + 1;
	}
	buf_add(b, s + run, len - run);
	buf_addc(b, '"');
}

void buf_add_json_ascii(struct buf *b, const char *s, size_t len)
{
	buf_grow(b, len + 2);
	buf_addc(b, '"');
	size_t i = 0, run = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
			i++;
			continue;
		}
		buf_add(b, s + run, i - run);
		if (c < 0x80) {
			add_json_escape(b, c);
			run = ++i;
			continue;
		}
		/* decode one UTF-8 sequence (the input is valid UTF-8) */
		size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
		uint32_t cp = c & (0x3F >> n);
		for (size_t k = 1; k <= n && i + k < len; k++)
			cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
		i += n + 1;
		if (i > len)
			i = len;
		run = i;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			add_u16(b, 0xD800 | (cp >> 10));
			add_u16(b, 0xDC00 | (cp & 0x3FF));
		} else
			add_u16(b, cp);
	}
	buf_add(b, s + run, len - run);
	buf_addc(b, '"');
}

void buf_add_html(struct buf *b, const char *s, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&#34;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		buf_add(b, s + run, i - run);
		buf_adds(b, rep);
		run = i + 1;
	}
	buf_add(b, s + run, len - run);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *buf_detach(struct buf *b)
{
	if (!b->data)
		buf_grow(b, 0), b->data[0] = '\0';
	char *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}
