/*
 * clock: Kiln's one clock helper for measuring and waiting: CLOCK_MONOTONIC,
 * which neither NTP steps nor an admin's `date` move. Wall-clock times (log
 * lines, database timestamps) come from elsewhere (log.c, Postgres's now()).
 */
#ifndef KILN_CLOCK_H
#define KILN_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock (an arbitrary origin: compare, subtract). */
static inline uint64_t clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Seconds on the monotonic clock, with a fraction. */
static inline double clock_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
