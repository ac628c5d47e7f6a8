/*
 * md5: the MD5 digest (RFC 1321), for non-security identifiers only:
 * Gravatar addresses the picture of an e-mail address by its MD5.  Never
 * use it for passwords, tokens or integrity.
 */
#ifndef MD5_H
#define MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_BYTES 16

struct md5_ctx {
	uint32_t h[4];
	uint64_t len;		/* bytes hashed so far */
	unsigned char block[64];
	size_t fill;		/* bytes waiting in block */
};

void md5_init(struct md5_ctx *c);
void md5_update(struct md5_ctx *c, const void *data, size_t len);
void md5_final(struct md5_ctx *c, unsigned char out[MD5_BYTES]);

/* MD5 of data as 32 lower-case hex digits and a NUL. */
void md5_hex(const void *data, size_t len, char out[2 * MD5_BYTES + 1]);

#endif
