/* stopflag: a stop request between threads and a sleep it cuts short (contract in stopflag.h). */
#include "common/stopflag.h"

#include "common/clock.h"

#include <errno.h>
#include <time.h>

int stopflag_sleep_ms(const atomic_int *f, unsigned ms)
{
	uint64_t end = clock_now_ms() + ms, now;

	/* Steps rather than a condition variable: the raisers include a signal
	 * handler, which may not signal one. A step costs a wake-up, not a delay. */
	while (!stopflag_up(f) && (now = clock_now_ms()) < end) {
		uint64_t step = end - now < STOPFLAG_STEP_MS ? end - now : STOPFLAG_STEP_MS;
		struct timespec ts = { (time_t)(step / 1000), (long)(step % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) && errno == EINTR && !stopflag_up(f))
			;
	}
	return stopflag_up(f);
}
