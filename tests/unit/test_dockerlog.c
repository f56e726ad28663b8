/*
 * Unit tests for common/dockerlog: Docker's multiplexed stream parser. Every table
 * row is fed whole and then in chunks of 1, 2, 3, 5, 7 and 8 bytes: the frames
 * that come out (and the verdict) must not depend on how the bytes were split.
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/dockerlog.h"
#include "common/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct case_ {
	const char *name;
	const char *in;  /* input bytes */
	size_t len;      /* their number (the input has NULs) */
	size_t max;      /* frame limit */
	const char *out; /* frames as "S:payload|" in order */
	int feed_rc;     /* what the feeding ends with */
	int finish_rc;   /* dockerlog_finish after it (if feed_rc == 0) */
};

#define IN(s) s, sizeof(s) - 1

static const struct case_ cases[] = {
	{ "empty input", IN(""), 64, "", 0, 0 },
	{ "one stdout frame", IN("\1\0\0\0\0\0\0\5hello"), 64, "1:hello|", 0, 0 },
	{ "stdout then stderr", IN("\1\0\0\0\0\0\0\3abc\2\0\0\0\0\0\0\2de"), 64,
	  "1:abc|2:de|", 0, 0 },
	{ "stdin and daemon-error streams", IN("\0\0\0\0\0\0\0\1i\3\0\0\0\0\0\0\4oops"), 64,
	  "0:i|3:oops|", 0, 0 },
	{ "empty frames are skipped", IN("\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\1x\1\0\0\0\0\0\0\0"), 64,
	  "2:x|", 0, 0 },
	{ "payload with NULs and header-like bytes",
	  IN("\1\0\0\0\0\0\0\x0a\1\0\0\0\0\0\0\x09\0z"), 64, "1:\\1\\0\\0\\0\\0\\0\\0\\t\\0z|", 0, 0 },
	{ "frame exactly at the limit", IN("\2\0\0\0\0\0\0\4abcd"), 4, "2:abcd|", 0, 0 },
	{ "frame one byte over the limit", IN("\2\0\0\0\0\0\0\5abcde"), 4, "", KERR_TOOBIG, 0 },
	{ "huge size field", IN("\1\0\0\0\xff\xff\xff\xff"), 1u << 20, "", KERR_TOOBIG, 0 },
	{ "frames before a bad one come out", IN("\1\0\0\0\0\0\0\2ok\1\0\0\0\0\0\0\x10x"), 8,
	  "1:ok|", KERR_TOOBIG, 0 },
	{ "unknown stream 4", IN("\4\0\0\0\0\0\0\1x"), 64, "", KERR_PROTO, 0 },
	{ "stream 0xff", IN("\xff\0\0\0\0\0\0\1x"), 64, "", KERR_PROTO, 0 },
	{ "non-zero padding byte 1", IN("\1\1\0\0\0\0\0\1x"), 64, "", KERR_PROTO, 0 },
	{ "non-zero padding byte 3", IN("\1\0\0\x80\0\0\0\1x"), 64, "", KERR_PROTO, 0 },
	{ "plain text is not a stream", IN("Hello, world\n"), 64, "", KERR_PROTO, 0 },
	{ "a TTY stream is not multiplexed", IN("\x1b[0mcompiling...\r\n"), 64, "", KERR_PROTO, 0 },
	{ "truncated header", IN("\1\0\0\0\0"), 64, "", 0, KERR_PROTO },
	{ "truncated payload", IN("\1\0\0\0\0\0\0\5hel"), 64, "", 0, KERR_PROTO },
	{ "complete frame then truncated header", IN("\2\0\0\0\0\0\0\1e\1"), 64, "2:e|", 0,
	  KERR_PROTO },
	{ "header alone of an empty frame is complete", IN("\1\0\0\0\0\0\0\0"), 64, "", 0, 0 },
};

struct sink {
	struct buf out;
	int stop_after; /* stop with KERR_TOOBIG after this many frames (0: never) */
	int nframes;
};

static int sink_frame(void *ctx, int stream, const char *p, size_t n)
{
	struct sink *s = ctx;

	assert_true(n > 0);
	assert_int_equal(buf_printf(&s->out, "%d:", stream), 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\t')
			assert_int_equal(buf_puts(&s->out, "\\t"), 0);
		else if (c < 0x20)
			assert_int_equal(buf_printf(&s->out, "\\%u", c), 0);
		else
			assert_int_equal(buf_putc(&s->out, (char)c), 0);
	}
	assert_int_equal(buf_putc(&s->out, '|'), 0);
	s->nframes++;
	if (s->stop_after && s->nframes >= s->stop_after)
		return KERR_TOOBIG;
	return 0;
}

/* Feed c->in in pieces of chunk bytes (0: all at once); check the outcome. */
static void run_case(const struct case_ *c, size_t chunk)
{
	struct dockerlog d;
	struct sink s = { BUF_INIT(4096), 0, 0 };
	struct kerr e;
	size_t off = 0;
	int rc = 0;

	kerr_clear(&e);
	dockerlog_init(&d, c->max);
	while (off < c->len) {
		size_t n = chunk && chunk < c->len - off ? chunk : c->len - off;
		rc = dockerlog_feed(&d, c->in + off, n, sink_frame, &s, &e);
		off += n;
		if (rc)
			break;
	}
	if (rc != c->feed_rc || !buf_eq(&s.out, c->out))
		fail_msg("case '%s', chunk %zu: rc %d (want %d), frames '%s' (want '%s'), msg '%s'",
			 c->name, chunk, rc, c->feed_rc, s.out.ptr, c->out, e.msg);
	if (rc) {
		assert_int_equal(e.code, rc);
		assert_true(e.msg[0] != '\0');
		/* The failure sticks. */
		assert_int_equal(dockerlog_feed(&d, "\1\0\0\0\0\0\0\1x", 9, sink_frame, &s, NULL), rc);
		assert_int_equal(dockerlog_finish(&d, NULL), rc);
	} else {
		rc = dockerlog_finish(&d, &e);
		if (rc != c->finish_rc)
			fail_msg("case '%s', chunk %zu: finish %d (want %d)", c->name, chunk, rc,
				 c->finish_rc);
		if (rc)
			assert_true(e.msg[0] != '\0');
	}
	dockerlog_release(&d);
	buf_release(&s.out);
}

static void test_table(void **state)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 5, 7, 8 };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		for (size_t j = 0; j < ARRAY_LEN(chunks); j++)
			run_case(&cases[i], chunks[j]);
}

static void test_callback_stops_feeding(void **state)
{
	static const char in[] = "\1\0\0\0\0\0\0\1a\1\0\0\0\0\0\0\1b\1\0\0\0\0\0\0\1c";
	struct dockerlog d;
	struct sink s = { BUF_INIT(256), 2, 0 };

	(void)state;
	dockerlog_init(&d, 64);
	assert_int_equal(dockerlog_feed(&d, in, sizeof(in) - 1, sink_frame, &s, NULL), KERR_TOOBIG);
	assert_true(buf_eq(&s.out, "1:a|1:b|"));
	/* A callback's stop is not a parse failure: the parser can go on. */
	assert_int_equal(d.failed, 0);
	dockerlog_release(&d);
	buf_release(&s.out);
}

static void test_big_frame_across_many_chunks(void **state)
{
	size_t n = 100000;
	char *in = malloc(n + 8);
	struct dockerlog d;
	struct sink s = { BUF_INIT(4 * n), 0, 0 };

	(void)state;
	assert_non_null(in);
	memcpy(in, "\2\0\0\0\0\x01\x86\xa0", 8); /* 100000 */
	memset(in + 8, 'x', n);
	dockerlog_init(&d, n);
	for (size_t off = 0; off < n + 8; off += 4093) {
		size_t k = n + 8 - off < 4093 ? n + 8 - off : 4093;
		assert_int_equal(dockerlog_feed(&d, in + off, k, sink_frame, &s, NULL), 0);
	}
	assert_int_equal(dockerlog_finish(&d, NULL), 0);
	assert_int_equal(s.nframes, 1);
	assert_int_equal(s.out.len, n + 3);
	assert_int_equal(d.frames, 1);
	assert_int_equal(d.bytes, n + 8);
	dockerlog_release(&d);
	buf_release(&s.out);
	free(in);
}

/* Random bytes, split randomly: never a crash, never a frame over the limit. */
static int random_frame(void *ctx, int stream, const char *p, size_t n)
{
	(void)p;
	assert_in_range(stream, 0, 3);
	assert_in_range(n, 1, 64);
	(*(size_t *)ctx)++;
	return 0;
}

static void test_random_garbage(void **state)
{
	unsigned seed = 12345;
	unsigned char in[512];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct dockerlog d;
		size_t frames = 0, off = 0;
		int rc = 0;

		for (size_t i = 0; i < sizeof(in); i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (unsigned char)(seed >> 16);
			/* Make plausible headers common so the parser gets past byte 0. */
			if (round % 2 && i % 9 < 4 && i % 9)
				in[i] = 0;
			if (round % 2 && i % 9 == 0)
				in[i] %= 4;
		}
		dockerlog_init(&d, 64);
		while (off < sizeof(in) && !rc) {
			size_t n = 1 + (seed >> 8) % 37;
			seed = seed * 1103515245u + 12345u;
			if (n > sizeof(in) - off)
				n = sizeof(in) - off;
			rc = dockerlog_feed(&d, in + off, n, random_frame, &frames, NULL);
			off += n;
		}
		assert_true(rc == 0 || rc == KERR_PROTO || rc == KERR_TOOBIG);
		(void)dockerlog_finish(&d, NULL);
		dockerlog_release(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_callback_stops_feeding),
		cmocka_unit_test(test_big_frame_across_many_chunks),
		cmocka_unit_test(test_random_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
