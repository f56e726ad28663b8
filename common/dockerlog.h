/*
 * dockerlog: an incremental parser of Docker's multiplexed output stream, the body
 * of GET /containers/{id}/logs (and of attach and exec start) when the container
 * has no TTY. The stream is a sequence of frames, each an 8-byte header
 *
 *     [stream, 0, 0, 0, size >> 24, size >> 16, size >> 8, size]
 *
 * (stream 0 stdin, 1 stdout, 2 stderr, 3 a daemon error message; size big-endian)
 * followed by size bytes of payload.
 *
 * Feed the bytes in chunks of any size as they arrive; each complete frame is
 * passed to the callback, whole, once. The input comes from outside (a build's
 * output), so it is treated as hostile: a frame larger than the limit given to
 * dockerlog_init is an error (KERR_TOOBIG) rather than an allocation, and a header
 * with an unknown stream or non-zero padding is an error (KERR_PROTO), never a
 * crash. After an error the parser stays failed: every later feed returns the
 * same code.
 *
 * A struct dockerlog is held by the caller: dockerlog_init, then dockerlog_release.
 */
#ifndef KILN_DOCKERLOG_H
#define KILN_DOCKERLOG_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

struct kerr;

enum dockerlog_stream {
	DOCKERLOG_STDIN = 0,
	DOCKERLOG_STDOUT = 1,
	DOCKERLOG_STDERR = 2,
	DOCKERLOG_SYSERR = 3 /* an error the daemon itself reports in the stream */
};

#define DOCKERLOG_HEADER_LEN 8
/* A sensible frame limit: Docker splits log messages at 16 KiB, attach at 32 KiB. */
#define DOCKERLOG_FRAME_MAX_DEFAULT (1u << 20)

/*
 * Called once per complete frame with a non-empty payload (empty frames are
 * skipped). p is borrowed until the callback returns. Return 0 to go on, or a
 * negative code to stop: dockerlog_feed then returns that code at once (the
 * parser is not marked failed, but the rest of the chunk is not parsed).
 */
typedef int (*dockerlog_frame_fn)(void *ctx, int stream, const char *p, size_t n);

struct dockerlog {
	unsigned char hdr[DOCKERLOG_HEADER_LEN];
	size_t hdr_len;   /* header bytes seen of the current frame */
	int stream;       /* current frame's stream, once the header is complete */
	size_t want;      /* payload bytes the current frame still needs */
	size_t max_frame;
	struct buf frame; /* payload collected so far */
	int failed;       /* the error code once the input was found bad */
	uint64_t frames;  /* complete frames seen (including empty ones) */
	uint64_t bytes;   /* bytes fed in total */
};

/* Make d ready for a new stream whose frames hold at most max_frame bytes (> 0). */
void dockerlog_init(struct dockerlog *d, size_t max_frame);
/* Free what d holds. */
void dockerlog_release(struct dockerlog *d);

/*
 * Parse n more bytes at p, calling fn for each frame completed by them. Returns 0,
 * the callback's negative code, or KERR_PROTO / KERR_TOOBIG (with a message in e)
 * for bad input. n == 0 is a no-op.
 */
int dockerlog_feed(struct dockerlog *d, const void *p, size_t n, dockerlog_frame_fn fn,
		   void *ctx, struct kerr *e);

/*
 * The stream has ended. 0 if it ended between two frames; KERR_PROTO (with e) if
 * it stopped inside a header or a payload; the failure code if d had failed.
 */
int dockerlog_finish(const struct dockerlog *d, struct kerr *e);

#endif
