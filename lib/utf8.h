/*
 * utf8: validation of untrusted bytes (URL paths, form fields) before they
 * reach PostgreSQL, which would reject invalid UTF-8 with an error.
 */
#ifndef UTF8_H
#define UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF) and holds no NUL byte. */
bool utf8_valid(const char *s, size_t len);

/* Number of code points in valid UTF-8 s[0..len). */
size_t utf8_len(const char *s, size_t len);

#endif
