/*
 * buf: a growable byte buffer (git's strbuf), always NUL-terminated.
 *
 * A zeroed struct buf (BUF_INIT) is an empty buffer; buf_release() frees it
 * and leaves it empty again.  Allocation failure aborts: the programs cannot
 * do anything useful without memory, and checking every append would bury
 * the logic that matters.
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;	/* NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_add_int(struct buf *b, int64_t v);
/* Append s[0..len) as a JSON string literal with quotes; s must be valid UTF-8. */
void buf_add_json_str(struct buf *b, const char *s, size_t len);
/* The same, with every non-ASCII character written as \uXXXX (surrogate
 * pairs above U+FFFF), as Python's json module writes by default. */
void buf_add_json_ascii(struct buf *b, const char *s, size_t len);
/* Append s with &<>"' escaped for HTML text and attribute values. */
void buf_add_html(struct buf *b, const char *s, size_t len);
void buf_reset(struct buf *b);		/* len = 0, keeps memory */
void buf_release(struct buf *b);	/* frees, back to BUF_INIT */
/* Give the caller the malloc'd string (never NULL); the buffer is emptied. */
char *buf_detach(struct buf *b);
/* Returns b->data, or "" for a buffer that never held anything. */
const char *buf_str(const struct buf *b);

#endif
