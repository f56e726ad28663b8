/*
 * stopflag: a flag one thread raises to stop another thread's work (the
 * daemon cancelling a job, the main thread stopping the checker, a signal
 * handler stopping a local build), and a sleep that wakes when it is raised.
 *
 * A C11 atomic_int, never a `volatile int`: volatile orders nothing between
 * threads and makes the flag a data race. Raising is a release store and
 * reading an acquire load, so what the raiser wrote before raising (a reason,
 * a state) is visible to the thread that sees the flag up. atomic_int is lock
 * free on every platform Kiln builds for (checked at compile time), so a
 * signal handler may raise it too.
 */
#ifndef KILN_STOPFLAG_H
#define KILN_STOPFLAG_H

#include <stdatomic.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "stopflag needs a lock-free atomic_int");

/* Raise f (from any thread, or a signal handler). */
static inline void stopflag_raise(atomic_int *f)
{
	atomic_store_explicit(f, 1, memory_order_release);
}

/* Is f raised? A NULL f (no one can stop this work) never is. */
static inline int stopflag_up(const atomic_int *f)
{
	return f && atomic_load_explicit((atomic_int *)f, memory_order_acquire);
}

/*
 * Sleep about ms milliseconds on the monotonic clock, waking within
 * STOPFLAG_STEP_MS once f is raised. 1 if f was raised (at once if it already
 * was), 0 if the whole time passed. f may be NULL (a plain sleep).
 */
#define STOPFLAG_STEP_MS 100
int stopflag_sleep_ms(const atomic_int *f, unsigned ms);

#endif
