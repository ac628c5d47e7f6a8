/*
 * hashq: hashing sign-up passwords on threads of their own, so that a burst
 * of registers does not stall reads.
 *
 * argon2id takes tens of milliseconds of CPU and 19 MiB per hash.  Run on
 * libmicrohttpd's workers (http.h), a burst of registers occupied every
 * worker and every other request waited behind them (200 registers at
 * concurrency 20 took GET /latest's p95 from 2 to 422 ms).  Instead, the
 * access handler suspends the register's connection (MHD_suspend_connection)
 * and queues a job; one of password.hash_threads threads hashes it and
 * resumes the connection, and
 * libmicrohttpd calls the handler again, which finds the hash made.  A
 * waiting register holds no worker and no database connection.  The queue
 * is bounded (password.hash_queue jobs waiting): past it a register is
 * answered 503 with Retry-After rather than queued without end.
 *
 * Shutdown: hashq_stop lets each thread finish its current hash, then
 * resumes every queued job marked refused (answered 503, never run), so no
 * suspended connection is left when the daemon stops.
 */
#ifndef HASHQ_H
#define HASHQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "util.h"

struct MHD_Connection;

enum hashq_state {
	HASHQ_IDLE,		/* never submitted */
	HASHQ_QUEUED,		/* suspended, waiting for or under a thread */
	HASHQ_DONE,		/* hash holds the result */
	HASHQ_FAILED,		/* could not hash (out of memory; logged) */
	HASHQ_REFUSED,		/* queue full or shutting down: answer 503 */
};

/* One password to hash (embedded in the request: no allocation but pwd). */
struct hashq_job {
	struct MHD_Connection *conn;
	char *pwd;		/* malloc'd copy, zeroed and freed once hashed */
	size_t len;
	char *hash;		/* malloc'd result when HASHQ_DONE; the request frees it */
	enum hashq_state state;
	struct hashq_job *next;
};

struct hashq {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct hashq_job *head, *tail;
	unsigned waiting;		/* queued, not yet taken by a thread */
	unsigned max_waiting;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
	uint64_t hashed, refused;
};

/*
 * Start threads hashing threads (0: one per online CPU) with at most
 * max_waiting jobs waiting; false (logged) when they cannot start, with
 * nothing left to release.
 */
MUST_CHECK bool hashq_init(struct hashq *q, unsigned threads,
						    unsigned max_waiting);

/*
 * Queue j to hash pwd (copied) and suspend conn until it is hashed: true,
 * and the caller returns MHD_YES from the access handler (it is called
 * again with j->state DONE or FAILED).  false with j->state REFUSED when
 * the queue is full or stopping (nothing suspended).  Must be called from
 * the access handler.
 */
bool hashq_submit(struct hashq *q, struct hashq_job *j, struct MHD_Connection *conn,
		  const char *pwd, size_t len);

/* Free what a job holds (request teardown). */
void hashq_job_release(struct hashq_job *j);

/* Finish the running hashes, refuse the queued ones, stop the threads. */
void hashq_stop(struct hashq *q);
/* After hashq_stop (or a failed init): free everything. */
void hashq_release(struct hashq *q);

/* Append the Prometheus gauges and counters. */
void hashq_metrics(struct hashq *q, struct buf *out);

#endif
