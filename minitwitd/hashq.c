/*
 * hashq: password hashing threads; see hashq.h.
 */
#include "hashq.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pw.h"
#include "banned.h"

static void job_wipe(struct hashq_job *j)
{
	if (j->pwd) {
		sodium_memzero(j->pwd, j->len);
		free(j->pwd);
		j->pwd = NULL;
	}
}

/* Set the job's outcome, then resume its connection: once resumed the
 * request may finish at once and j be freed, so j is not touched after. */
static void job_finish(struct hashq_job *j, enum hashq_state state)
{
	struct MHD_Connection *conn = j->conn;
	j->state = state;
	MHD_resume_connection(conn);
}

static void *hash_main(void *arg)
{
	struct hashq *q = arg;
	char hash[crypto_pwhash_STRBYTES];

	/*
	 * No lower CPU priority: niced, the threads starved under other
	 * processes' load, and a register missed the simulator's 0.3 s
	 * timeout.  What keeps reads fast is that no worker waits for a hash.
	 */
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		if (q->stopping)
			break;	/* hashq_stop refuses what is left */
		struct hashq_job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->waiting--;
		pthread_mutex_unlock(&q->lock);

		bool ok = pw_hash(j->pwd, j->len, hash, sizeof hash);
		job_wipe(j);
		if (ok) {
			j->hash = strdup(hash);
			ok = j->hash != NULL;
		}
		sodium_memzero(hash, sizeof hash);

		pthread_mutex_lock(&q->lock);
		q->hashed++;
		pthread_mutex_unlock(&q->lock);
		job_finish(j, ok ? HASHQ_DONE : HASHQ_FAILED);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

bool hashq_init(struct hashq *q, unsigned threads, unsigned max_waiting)
{
	memset(q, 0, sizeof *q);
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	q->max_waiting = max_waiting;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	q->threads = calloc(threads, sizeof *q->threads);
	if (!q->threads) {
		log_error("could not start the password hashing threads: out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < threads; i++) {
		int rc = pthread_create(&q->threads[i], NULL, hash_main, q);
		if (rc != 0) {
			log_error("could not start a password hashing thread: %s", strerror(rc));
			goto fail;
		}
		q->nthreads++;
	}
	return true;
fail:
	hashq_stop(q);
	hashq_release(q);
	return false;
}

bool hashq_submit(struct hashq *q, struct hashq_job *j, struct MHD_Connection *conn,
		  const char *pwd, size_t len)
{
	bool queued = false;
	char *copy = malloc(len + 1);
	if (copy) {
		memcpy(copy, pwd, len);
		copy[len] = '\0';
	}
	pthread_mutex_lock(&q->lock);
	if (copy && !q->stopping && q->waiting < q->max_waiting) {
		/* suspended under the lock, before a thread can see it: a
		 * thread never resumes a connection not yet suspended */
		MHD_suspend_connection(conn);
		j->conn = conn;
		j->pwd = copy;
		j->len = len;
		j->next = NULL;
		j->state = HASHQ_QUEUED;
		if (q->tail)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		q->waiting++;
		copy = NULL;
		queued = true;
		pthread_cond_signal(&q->work);
	} else {
		j->state = HASHQ_REFUSED;
		q->refused++;
	}
	pthread_mutex_unlock(&q->lock);
	if (copy) {
		sodium_memzero(copy, len);
		free(copy);
	}
	return queued;
}

void hashq_job_release(struct hashq_job *j)
{
	job_wipe(j);
	if (j->hash) {
		sodium_memzero(j->hash, strlen(j->hash));
		free(j->hash);
		j->hash = NULL;
	}
}

void hashq_stop(struct hashq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0;
	/* the threads are gone: nobody else touches the list */
	struct hashq_job *j = q->head;
	unsigned n = q->waiting;
	q->head = q->tail = NULL;
	q->waiting = 0;
	if (n)
		log_warn("shutting down: answering the %u sign-ups waiting for a hash 503", n);
	while (j) {
		struct hashq_job *next = j->next;
		job_wipe(j);
		job_finish(j, HASHQ_REFUSED);
		j = next;
	}
}

void hashq_release(struct hashq *q)
{
	free(q->threads);
	q->threads = NULL;
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->lock);
}

void hashq_metrics(struct hashq *q, struct buf *out)
{
	pthread_mutex_lock(&q->lock);
	unsigned waiting = q->waiting;
	uint64_t hashed = q->hashed, refused = q->refused;
	pthread_mutex_unlock(&q->lock);
	buf_addf(out,
		 "# HELP minitwit_hash_queue_waiting Sign-ups waiting for a password hash thread.\n"
		 "# TYPE minitwit_hash_queue_waiting gauge\n"
		 "minitwit_hash_queue_waiting %u\n"
		 "# HELP minitwit_hash_queue_hashed_total Sign-up passwords hashed by the hash threads.\n"
		 "# TYPE minitwit_hash_queue_hashed_total counter\n"
		 "minitwit_hash_queue_hashed_total %llu\n"
		 "# HELP minitwit_hash_queue_refused_total Sign-ups answered 503: the hash queue was full.\n"
		 "# TYPE minitwit_hash_queue_refused_total counter\n"
		 "minitwit_hash_queue_refused_total %llu\n",
		 waiting, (unsigned long long)hashed, (unsigned long long)refused);
}
