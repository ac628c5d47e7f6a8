/*
 * pgwriter: an application that is not minitwitd, for the cutover tests
 * and bench/cutover: NCONN connections (libpq, each its own thread) insert
 * (writer, seq) rows into app_item at RATE transactions per second in all,
 * one autocommit INSERT per transaction, until stdin is closed.
 *
 *   pgwriter DSN NCONN RATE ACKFILE
 *
 * Every acknowledged insert is written to ACKFILE as "writer seq" lines;
 * stdout gets one JSON line: acked, errors, max_ms (the longest statement:
 * what a cutover's hold costs the application) and tps.  A failed
 * statement is counted, its message printed on stderr, and the connection
 * re-made when it was lost.  Built by the tests (harness.build_pgwriter).
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_bool stop;
static const char *dsn;
static double per_conn_rate;

struct worker {
	pthread_t t;
	int id;
	int *acked;
	size_t nacked, cap;
	long errors;
	double max_ms;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static PGconn *connect_db(void)
{
	PGconn *c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgwriter: connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	PGconn *c = connect_db();
	double t0 = now_ms();
	int seq = 0;
	char wbuf[16], sbuf[16];

	snprintf(wbuf, sizeof wbuf, "%d", w->id);
	while (!atomic_load(&stop)) {
		if (!c) {
			w->errors++;
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
			c = connect_db();
			continue;
		}
		seq++;
		snprintf(sbuf, sizeof sbuf, "%d", seq);
		const char *p[] = { wbuf, sbuf };
		double s = now_ms();
		PGresult *r = PQexecParams(c, "INSERT INTO app_item (writer, seq) VALUES ($1, $2)", 2, NULL, p,
					   NULL, NULL, 0);
		double ms = now_ms() - s;
		if (ms > w->max_ms)
			w->max_ms = ms;
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			if (w->nacked == w->cap) {
				w->cap = w->cap ? w->cap * 2 : 1024;
				w->acked = realloc(w->acked, w->cap * sizeof *w->acked);
				if (!w->acked)
					abort();
			}
			w->acked[w->nacked++] = seq;
		} else {
			w->errors++;
			fprintf(stderr, "pgwriter: writer %d seq %d: %s", w->id, seq, PQerrorMessage(c));
			if (PQstatus(c) != CONNECTION_OK) {
				PQfinish(c);
				c = connect_db();
			}
		}
		PQclear(r);
		/* pace: transaction n of this connection starts at n / rate */
		if (per_conn_rate > 0) {
			double due = t0 + (double)seq * 1000.0 / per_conn_rate, left = due - now_ms();
			if (left > 0) {
				struct timespec ts = { (time_t)(left / 1000), (long)((left - (double)(long)(left / 1000) * 1000) * 1e6) };
				nanosleep(&ts, NULL);
			}
		}
	}
	PQfinish(c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pgwriter DSN NCONN RATE ACKFILE\n");
		return 2;
	}
	dsn = argv[1];
	int n = (int)strtol(argv[2], NULL, 10);
	double rate = strtod(argv[3], NULL);
	if (n < 1 || n > 256) {
		fprintf(stderr, "pgwriter: NCONN must be 1..256\n");
		return 2;
	}
	per_conn_rate = rate / n;
	struct worker *w = calloc((size_t)n, sizeof *w);
	double t0 = now_ms();
	for (int i = 0; i < n; i++) {
		w[i].id = i + 1;
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	char b[256];
	while (read(0, b, sizeof b) > 0)
		;
	atomic_store(&stop, true);
	long acked = 0, errors = 0;
	double max_ms = 0;
	FILE *f = fopen(argv[4], "w");
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		for (size_t k = 0; f && k < w[i].nacked; k++)
			fprintf(f, "%d %d\n", w[i].id, w[i].acked[k]);
		acked += (long)w[i].nacked;
		errors += w[i].errors;
		if (w[i].max_ms > max_ms)
			max_ms = w[i].max_ms;
		free(w[i].acked);
	}
	if (f)
		fclose(f);
	double secs = (now_ms() - t0) / 1000.0;
	printf("{\"acked\": %ld, \"errors\": %ld, \"max_ms\": %.1f, \"tps\": %.1f}\n", acked, errors, max_ms,
	       secs > 0 ? (double)acked / secs : 0.0);
	free(w);
	return 0;
}
