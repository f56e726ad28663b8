/*
 * builder_timers: the builder channel's periodic work, on lws timers of the
 * service thread:
 *   - leases, every lease_s/3: one statement extends the leases of the jobs
 *     the connections here hold, for the connections whose builder proved alive
 *     (a frame or a pong) within that period only;
 *   - pings, every ping_us: each connection is pinged; one silent for
 *     KILN_BUILDER_PING_TIMEOUT is dropped (its jobs go back to the queue when
 *     their leases run out);
 *   - the reaper, every 5 s: requeues or fails jobs whose lease ran out;
 *   - dispatch, every 5 s: jobs whose backoff ran out notify nobody.
 */
#ifndef KILN_BUILDER_TIMERS_H
#define KILN_BUILDER_TIMERS_H

struct bws_state;

/* Schedule the four timers; st's lease_s and ping_us must be set. */
void builder_timers_start(struct bws_state *st);
/* Cancel them (before st is freed). */
void builder_timers_stop(struct bws_state *st);

#endif
