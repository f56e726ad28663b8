/* dockerlog: the multiplexed stream parser (contract in dockerlog.h). */
#include "common/dockerlog.h"

#include "common/kerr.h"

#include <string.h>

void dockerlog_init(struct dockerlog *d, size_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->max_frame = max_frame ? max_frame : 1;
	/* The buffer only ever holds one frame's payload, never more than the limit. */
	buf_init(&d->frame, d->max_frame);
}

void dockerlog_release(struct dockerlog *d)
{
	buf_release(&d->frame);
}

static int dockerlog__fail(struct dockerlog *d, int code)
{
	d->failed = code;
	return code;
}

/* The header in d->hdr is complete: check it and set up the payload. */
static int dockerlog__header(struct dockerlog *d, struct kerr *e)
{
	const unsigned char *h = d->hdr;
	uint32_t size;

	if (h[0] > DOCKERLOG_SYSERR || h[1] || h[2] || h[3])
		return dockerlog__fail(d, kerr_set(e, KERR_PROTO,
			"malformed docker stream: bad frame header %02x %02x %02x %02x at byte %llu",
			h[0], h[1], h[2], h[3],
			(unsigned long long)(d->bytes - DOCKERLOG_HEADER_LEN)));
	size = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (size > d->max_frame)
		return dockerlog__fail(d, kerr_set(e, KERR_TOOBIG,
			"docker stream frame of %lu bytes exceeds the limit of %zu",
			(unsigned long)size, d->max_frame));
	d->stream = h[0];
	d->want = size;
	buf_reset(&d->frame);
	return 0;
}

/* The current frame is complete: hand its payload (p, n) over and start the next. */
static int dockerlog__emit(struct dockerlog *d, const char *p, size_t n, dockerlog_frame_fn fn,
			   void *ctx)
{
	d->hdr_len = 0;
	d->frames++;
	return n ? fn(ctx, d->stream, p, n) : 0;
}

int dockerlog_feed(struct dockerlog *d, const void *p, size_t n, dockerlog_frame_fn fn,
		   void *ctx, struct kerr *e)
{
	const char *s = p;
	size_t take;
	int rc;

	if (d->failed)
		return kerr_set(e, d->failed, "malformed docker stream (already reported)");
	while (n) {
		if (d->hdr_len < DOCKERLOG_HEADER_LEN) {
			take = DOCKERLOG_HEADER_LEN - d->hdr_len;
			if (take > n)
				take = n;
			memcpy(d->hdr + d->hdr_len, s, take);
			d->hdr_len += take;
			d->bytes += take;
			s += take;
			n -= take;
			if (d->hdr_len < DOCKERLOG_HEADER_LEN)
				break;
			if ((rc = dockerlog__header(d, e)))
				return rc;
			if (d->want == 0 && (rc = dockerlog__emit(d, NULL, 0, fn, ctx)))
				return rc;
			continue;
		}
		take = d->want < n ? d->want : n;
		d->bytes += take;
		if (take == d->want && d->frame.len == 0) {
			/* The whole payload is inside this chunk: no copy. */
			d->want = 0;
			rc = dockerlog__emit(d, s, take, fn, ctx);
			s += take;
			n -= take;
			if (rc)
				return rc;
			continue;
		}
		if (buf_append(&d->frame, s, take))
			return dockerlog__fail(d, kerr_set(e, KERR_INTERNAL,
				"docker stream frame outgrew its buffer"));
		d->want -= take;
		s += take;
		n -= take;
		if (d->want == 0) {
			rc = dockerlog__emit(d, d->frame.ptr, d->frame.len, fn, ctx);
			buf_reset(&d->frame);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int dockerlog_finish(const struct dockerlog *d, struct kerr *e)
{
	if (d->failed)
		return kerr_set(e, d->failed, "malformed docker stream (already reported)");
	if (d->hdr_len && d->hdr_len < DOCKERLOG_HEADER_LEN)
		return kerr_set(e, KERR_PROTO,
				"docker stream ended inside a frame header (%zu of 8 bytes)", d->hdr_len);
	if (d->hdr_len == DOCKERLOG_HEADER_LEN && d->want)
		return kerr_set(e, KERR_PROTO,
				"docker stream ended inside a frame (%zu bytes missing)", d->want);
	return 0;
}
