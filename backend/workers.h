/*
 * workers: a bounded pool of threads for the blocking work the event loop must
 * not do (object storage transfers, wheel inspection).
 *
 * A task's `run` executes on a worker thread and may block; its `done` then
 * executes on the lws service thread (the worker wakes the loop with
 * lws_cancel_service, the only lws call allowed off the service thread), where
 * it may touch requests and the database pool. Tasks are never dropped: at
 * shutdown, queued tasks still run and every `done` is called.
 */
#ifndef KILN_WORKERS_H
#define KILN_WORKERS_H

#include <libwebsockets.h>
#include <stddef.h>

struct workers;

typedef void (*workers_run_fn)(void *arg);
typedef void (*workers_done_fn)(void *arg);

/* Start nthreads (1-64) threads; at most max_queue tasks wait. 0 or KERR_INVAL/KERR_INTERNAL. */
int workers_new(struct lws_context *context, int nthreads, size_t max_queue,
		struct workers **out);

/* Queue a task (service thread). 0, or KERR_AGAIN when the queue is full. */
int workers_submit(struct workers *w, workers_run_fn run, workers_done_fn done, void *arg);

/* Run the `done` callbacks of finished tasks (service thread, on EVENT_WAIT_CANCELLED). */
void workers_drain(struct workers *w);

/* Tasks queued or running. */
size_t workers_pending(const struct workers *w);

/* Finish queued tasks, join the threads, run remaining `done`s, free. */
void workers_free(struct workers *w);

#endif
