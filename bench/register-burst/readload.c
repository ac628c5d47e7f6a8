/*
 * readload: a closed-loop HTTP/1.1 read load that times every request.
 *
 *   readload PORT PATH CONNECTIONS SECONDS [RATE]
 *
 * CONNECTIONS threads each keep one keep-alive connection to 127.0.0.1:PORT
 * and send GET PATH for SECONDS:
 *
 * - without RATE (or 0), back to back (a closed loop: as fast as the server
 *   answers), each request timed from its first byte written to the last
 *   byte of its response;
 * - with RATE, at RATE requests/s in all, on a fixed schedule (an open
 *   loop, as wrk2 does), each request timed from the moment the schedule
 *   meant to send it: a stall delays the requests behind it, and they count
 *   the wait (no coordinated omission).
 *
 * At the end it prints one JSON object: requests, errors, rps, mean, p50,
 * p99, p99.9 and max in ms, and "occupancy" = rps * mean / connections (a
 * closed loop's is 1.0 by Little's law: a check on the figures).
 *
 * Every request's latency is kept: no histogram buckets, no synthetic
 * samples.  (wrk 4 adds synthetic samples for coordinated omission to a
 * closed loop at full speed: one 100 ms stall at 20,000 requests/s becomes
 * 2,000 samples, so its p99 models a load that never paused, not the
 * requests it sent; its occupancy then reads 7 to 17.)
 *
 * A benchmark tool (bench/register-burst/run builds and runs it), not part
 * of the suite's programs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
	pthread_t thread;
	long index;
	int64_t *lat_us;	/* one entry per answered request */
	size_t n, cap;
	long errors;		/* connections lost or refused */
};

static struct {
	uint16_t port;
	long conns;
	double rate;		/* requests/s in all; 0: closed loop */
	char request[512];
	size_t request_len;
	int64_t end_us;
} cfg;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(cfg.port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Read one response (headers and a Content-Length body); false when the
 * connection failed or closed, or the response has no length we can use. */
static bool read_response(int fd, char *buf, size_t size)
{
	size_t got = 0, head = 0;
	long body = -1;

	for (;;) {
		if (got + 1 >= size)
			return false;
		ssize_t r = read(fd, buf + got, size - got - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
		buf[got] = '\0';
		if (body < 0) {
			char *end = strstr(buf, "\r\n\r\n");
			if (!end)
				continue;
			head = (size_t)(end + 4 - buf);
			*end = '\0';
			char *cl = strcasestr(buf, "\r\ncontent-length:");
			body = cl ? strtol(cl + 17, NULL, 10) : -1;
			*end = '\r';
			if (body < 0)
				return false;
		}
		if (got >= head + (size_t)body)
			return got == head + (size_t)body;	/* nothing pipelined */
	}
}

static void sleep_until(int64_t t_us)
{
	struct timespec ts = { (time_t)(t_us / 1000000), (long)(t_us % 1000000) * 1000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	static _Thread_local char buf[1 << 16];
	int fd = dial();
	/* open loop: this connection's share of the rate, its sends spread
	 * evenly over the connections */
	double interval_us = cfg.rate > 0 ? 1e6 * (double)cfg.conns / cfg.rate : 0;
	int64_t start = now_us();
	double next = (double)start + interval_us * (double)w->index / (double)cfg.conns;

	while (now_us() < cfg.end_us) {
		int64_t due = 0;
		if (interval_us > 0) {
			due = (int64_t)next;
			next += interval_us;
			if (due >= cfg.end_us)
				break;
			sleep_until(due);
		}
		if (fd < 0) {
			w->errors++;
			fd = dial();
			if (fd < 0)
				break;	/* the server is gone: stop, the count says so */
			continue;
		}
		int64_t t0 = due ? due : now_us();
		if (!write_all(fd, cfg.request, cfg.request_len) || !read_response(fd, buf, sizeof buf)) {
			close(fd);
			fd = -1;
			continue;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 1 << 16;
			int64_t *p = realloc(w->lat_us, w->cap * sizeof *p);
			if (!p)
				abort();
			w->lat_us = p;
		}
		w->lat_us[w->n++] = now_us() - t0;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)n);
	return (double)v[i < n ? i : n - 1] / 1000.0;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: readload PORT PATH CONNECTIONS SECONDS [RATE]\n");
		return 2;
	}
	long port = strtol(argv[1], NULL, 10), conns = strtol(argv[3], NULL, 10);
	double secs = strtod(argv[4], NULL);
	cfg.rate = argc == 6 ? strtod(argv[5], NULL) : 0;
	if (port <= 0 || port > 65535 || conns <= 0 || conns > 1024 || !(secs > 0) || !(cfg.rate >= 0) ||
	    argv[2][0] != '/') {
		fprintf(stderr, "readload: bad arguments\n");
		return 2;
	}
	cfg.port = (uint16_t)port;
	cfg.conns = conns;
	int len = snprintf(cfg.request, sizeof cfg.request,
			   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%ld\r\n\r\n", argv[2], port);
	if (len < 0 || (size_t)len >= sizeof cfg.request) {
		fprintf(stderr, "readload: path too long\n");
		return 2;
	}
	cfg.request_len = (size_t)len;

	struct worker *ws = calloc((size_t)conns, sizeof *ws);
	if (!ws)
		abort();
	int64_t t0 = now_us();
	cfg.end_us = t0 + (int64_t)(secs * 1e6);
	for (long i = 0; i < conns; i++) {
		ws[i].index = i;
		if (pthread_create(&ws[i].thread, NULL, work, &ws[i]) != 0) {
			fprintf(stderr, "readload: cannot start a thread\n");
			return 1;
		}
	}
	size_t n = 0;
	long errors = 0;
	for (long i = 0; i < conns; i++) {
		pthread_join(ws[i].thread, NULL);
		n += ws[i].n;
		errors += ws[i].errors;
	}
	double elapsed = (double)(now_us() - t0) / 1e6;
	if (!n) {
		printf("{\"requests\": 0, \"errors\": %ld}\n", errors);
		return 1;
	}
	int64_t *all = malloc(n * sizeof *all);
	if (!all)
		abort();
	size_t k = 0;
	double sum = 0;
	for (long i = 0; i < conns; i++) {
		memcpy(all + k, ws[i].lat_us, ws[i].n * sizeof *all);
		k += ws[i].n;
		free(ws[i].lat_us);
	}
	for (size_t i = 0; i < n; i++)
		sum += (double)all[i];
	qsort(all, n, sizeof *all, by_value);
	double rps = (double)n / elapsed, mean_ms = sum / (double)n / 1000.0;
	printf("{\"requests\": %zu, \"errors\": %ld, \"rps\": %.1f, \"mean_ms\": %.3f, "
	       "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, "
	       "\"occupancy\": %.3f}\n",
	       n, errors, rps, mean_ms, pct_ms(all, n, 0.5), pct_ms(all, n, 0.99),
	       pct_ms(all, n, 0.999), (double)all[n - 1] / 1000.0,
	       rps * mean_ms / 1000.0 / (double)conns);
	free(all);
	free(ws);
	return 0;
}
