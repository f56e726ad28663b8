/* workers: thread pool with completions on the lws loop (contract in workers.h). */
#include "backend/workers.h"

#include "common/kerr.h"
#include "common/xalloc.h"

#include <pthread.h>
#include <stdlib.h>

struct workers_task {
	struct workers_task *next;
	workers_run_fn run;
	workers_done_fn done;
	void *arg;
};

struct workers {
	struct lws_context *context;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct workers_task *todo_head, *todo_tail; /* guarded by lock */
	struct workers_task *done_head, *done_tail; /* guarded by lock */
	size_t queued, max_queue, pending;          /* guarded by lock */
	int stopping;                               /* guarded by lock */
	pthread_t *threads;
	int nthreads;
};

static void *workers__main(void *p)
{
	struct workers *w = p;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct workers_task *t;

		while (!w->todo_head && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->todo_head)
			break;
		t = w->todo_head;
		w->todo_head = t->next;
		if (!w->todo_head)
			w->todo_tail = NULL;
		w->queued--;
		pthread_mutex_unlock(&w->lock);

		t->run(t->arg);

		pthread_mutex_lock(&w->lock);
		t->next = NULL;
		if (w->done_tail)
			w->done_tail->next = t;
		else
			w->done_head = t;
		w->done_tail = t;
		pthread_mutex_unlock(&w->lock);
		lws_cancel_service(w->context);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int workers_new(struct lws_context *context, int nthreads, size_t max_queue,
		struct workers **out)
{
	struct workers *w;

	*out = NULL;
	if (nthreads < 1 || nthreads > 64)
		return KERR_INVAL;
	w = xcalloc(1, sizeof(*w));
	w->context = context;
	w->max_queue = max_queue;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->threads = xcalloc((size_t)nthreads, sizeof(pthread_t));
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&w->threads[i], NULL, workers__main, w)) {
			workers_free(w);
			return KERR_INTERNAL;
		}
		w->nthreads++;
	}
	*out = w;
	return 0;
}

int workers_submit(struct workers *w, workers_run_fn run, workers_done_fn done, void *arg)
{
	struct workers_task *t;

	pthread_mutex_lock(&w->lock);
	if (w->queued >= w->max_queue || w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return KERR_AGAIN;
	}
	t = xcalloc(1, sizeof(*t));
	t->run = run;
	t->done = done;
	t->arg = arg;
	if (w->todo_tail)
		w->todo_tail->next = t;
	else
		w->todo_head = t;
	w->todo_tail = t;
	w->queued++;
	w->pending++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void workers_drain(struct workers *w)
{
	struct workers_task *t;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	t = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while (t) {
		struct workers_task *next = t->next;
		if (t->done)
			t->done(t->arg);
		pthread_mutex_lock(&w->lock);
		w->pending--;
		pthread_mutex_unlock(&w->lock);
		free(t);
		t = next;
	}
}

size_t workers_pending(const struct workers *w)
{
	size_t n;
	pthread_mutex_lock((pthread_mutex_t *)&w->lock);
	n = w->pending;
	pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
	return n;
}

void workers_free(struct workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	workers_drain(w);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w);
}
