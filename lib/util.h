/*
 * util.h: the few helpers every part of the suite needs, defined once.
 *
 * MUST_CHECK marks a function whose result says whether it worked
 * (docs/STYLE.md: must-check booleans).  xstrdup/xstrndup abort when memory
 * is exhausted: the programs cannot do anything useful then, and an abort is
 * better than a NULL that a caller forgets.  mono_* read CLOCK_MONOTONIC:
 * every duration and deadline in the suite uses them, never the wall clock.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MUST_CHECK __attribute__((warn_unused_result))

static inline char *xstrndup(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (!p)
		abort();
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static inline char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Monotonic time in nanoseconds, milliseconds, and fractional ms/seconds. */
static inline int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t mono_ms(void)
{
	return mono_ns() / 1000000;
}

static inline double mono_ms_f(void)
{
	return (double)mono_ns() / 1e6;
}

static inline double mono_s_f(void)
{
	return (double)mono_ns() / 1e9;
}

#endif
