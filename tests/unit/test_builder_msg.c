/*
 * Unit tests for backend/builder_msg: the builder channel's messages, table
 * driven: what each accepts, and the protocol error code and message for what
 * it refuses (docs/protocol.md, "Builder -> backend" and "Errors").
 */
#include "tests/unit/unit.h"

#include "backend/builder_msg.h"
#include "common/buf.h"
#include "common/kerr.h"

#include <stdio.h>
#include <string.h>

#define TOK "kiln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static const struct {
	const char *in;
	const char *code; /* NULL: accepted */
	const char *msg;  /* a substring of the refusal */
} cases[] = {
	{ "{\"type\":\"drain\"}", NULL, NULL },
	{ "{\"type\":\"progress\",\"job\":3,\"phase\":\"building\"}", NULL, NULL },
	{ "{\"type\":\"progress\",\"job\":3,\"phase\":\"dancing\"}", "bad_message", "unknown phase 'dancing'" },
	{ "{\"type\":\"progress\",\"job\":0,\"phase\":\"building\"}", "bad_message", "job" },
	{ "{\"type\":\"progress\",\"job\":\"3\",\"phase\":\"building\"}", "bad_message", "job" },
	{ "{\"type\":\"log\",\"job\":3,\"seq\":0,\"data\":\"x\\n\"}", NULL, NULL },
	{ "{\"type\":\"log\",\"job\":3,\"seq\":1000000000,\"data\":\"x\"}", "bad_message", "seq" },
	{ "{\"type\":\"log\",\"job\":3,\"seq\":0}", "bad_message", "data" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"exit_code\":2,\"reason\":\"boom\"}", NULL, NULL },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"maybe\"}", "bad_message", "status must be" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"retry\",\"duration_ms\":-1}", "bad_message", "duration_ms" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":2,"
	  "\"targets\":[\"t-1\",\"t.2\"],\"running\":[{\"job\":7}]}", NULL, NULL },
	{ "{\"type\":\"hello\",\"protocol\":2,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":2,"
	  "\"targets\":[\"t\"]}", "unsupported_protocol", "protocol 2 is not supported" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"kiln_short\",\"name\":\"b1\",\"slots\":2,"
	  "\"targets\":[\"t\"]}", "unauthorized", "malformed builder token" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":65,"
	  "\"targets\":[\"t\"]}", "bad_message", "slots" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":1,"
	  "\"targets\":[]}", "bad_message", "1 to 32 target names" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":1,"
	  "\"targets\":[\"Upper\"]}", "bad_message", "target names" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":1,"
	  "\"targets\":[\"t\"],\"running\":[7]}", "bad_message", "{\"job\": id}" },
	{ "{\"type\":\"teleport\"}", "bad_message", "unknown message type 'teleport'" },
	/* attempt: optional on progress, log and finish, a positive integer. */
	{ "{\"type\":\"progress\",\"job\":3,\"attempt\":0,\"phase\":\"building\"}", "bad_message",
	  "attempt" },
	{ "{\"type\":\"log\",\"job\":3,\"attempt\":\"2\",\"seq\":0,\"data\":\"x\"}", "bad_message",
	  "attempt" },
	{ "{\"type\":\"finish\",\"job\":3,\"attempt\":2.5,\"status\":\"failed\"}", "bad_message",
	  "attempt" },
	{ "{\"type\":\"finish\",\"job\":3,\"attempt\":4294967296,\"status\":\"failed\"}",
	  "bad_message", "attempt" },
	{ "{\"type\":\"finish\",\"job\":3,\"attempt\":null,\"status\":\"failed\"}", NULL, NULL },
	/* hello: arch and emulates (issue 16). */
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":1,"
	  "\"targets\":[\"t\"],\"arch\":\"x86-64\"}", "bad_message", "arch must be" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":1,"
	  "\"targets\":[\"t\"],\"emulates\":\"aarch64\"}", "bad_message", "emulates" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":1,"
	  "\"targets\":[\"t\"],\"emulates\":[\"Arm\"]}", "bad_message", "emulates" },
	{ "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\",\"name\":\"b1\",\"slots\":1,"
	  "\"targets\":[\"t\"],\"emulates\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "bad_message",
	  "more than 4" },
	/* finish: the build requirement found nowhere, a project name. */
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"failure_class\":\"build-requirement\","
	  "\"requirement\":\"Py.Cairo\"}", NULL, NULL },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"failure_class\":\"build-requirement\","
	  "\"requirement\":\"cairo>=1; drop table jobs\"}", "bad_message", "not a project name" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"requirement\":[\"x\"]}",
	  "bad_message", "requirement" },
	/* finish: the failure report (issue 15). */
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"failure_class\":\"native-dependency\","
	  "\"missing\":[{\"kind\":\"header\",\"name\":\"libpq-fe.h\",\"package\":\"libpq-dev\"},"
	  "{\"kind\":\"program\",\"name\":\"pg_config\",\"package\":null},"
	  "{\"kind\":\"library\",\"name\":\"-lfoo\"}]}", NULL, NULL },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"failure_class\":\"oops\"}",
	  "bad_message", "unknown failure_class 'oops'" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"failure_class\":7}",
	  "bad_message", "failure_class" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"failure_class\":\"native-dependency\","
	  "\"missing\":[{\"kind\":\"header\",\"name\":\"x.h\",\"package\":\"libx-dev; rm -rf /\"}]}",
	  "bad_message", "not a Debian package name" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"failure_class\":\"native-dependency\","
	  "\"missing\":[{\"kind\":\"dll\",\"name\":\"x.h\"}]}", "bad_message", "unknown kind 'dll'" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"missing\":[{\"kind\":\"header\","
	  "\"name\":\"a b.h\"}]}", "bad_message", "printable ASCII" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"missing\":[\"libpq-dev\"]}",
	  "bad_message", "must list" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"missing\":{\"kind\":\"header\"}}",
	  "bad_message", "missing" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\",\"missing\":["
	  "{\"kind\":\"header\",\"name\":\"1.h\"},{\"kind\":\"header\",\"name\":\"2.h\"},"
	  "{\"kind\":\"header\",\"name\":\"3.h\"},{\"kind\":\"header\",\"name\":\"4.h\"},"
	  "{\"kind\":\"header\",\"name\":\"5.h\"},{\"kind\":\"header\",\"name\":\"6.h\"},"
	  "{\"kind\":\"header\",\"name\":\"7.h\"},{\"kind\":\"header\",\"name\":\"8.h\"},"
	  "{\"kind\":\"header\",\"name\":\"9.h\"}]}", "bad_message", "more than 8 entries" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"wheels\":[{\"filename\":"
	  "\"a-1-cp311-cp311-manylinux_2_36_x86_64.whl\",\"policy\":\"manylinux_2_36_x86_64\","
	  "\"runtime_packages\":[\"libpq5\"]},{\"filename\":\"b-1-py3-none-any.whl\",\"policy\":\"\"}]}",
	  NULL, NULL },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"wheels\":[{\"filename\":"
	  "\"../x.whl\",\"policy\":\"linux_x86_64\"}]}", "bad_message", "not a wheel file name" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"wheels\":[{\"filename\":"
	  "\"a-1-py3-none-any.whl\",\"policy\":\"<b>\"}]}", "bad_message", "not a platform tag" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"wheels\":[{\"filename\":"
	  "\"a-1-py3-none-any.whl\",\"runtime_packages\":[\"Bad Name\"]}]}", "bad_message",
	  "Debian package names" },
	/* How the build ran (issue 17): image, command, environment, build_requirements. */
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":{\"id\":\"sha256:abababababababababababababababababababababababababababababababab\",\"base\":\"sha256:abababababababababababababababababababababababababababababababab\",\"name\":\"kiln/derived:0123abc\"},\"command\":[\"python3\",\"-I\",\"-c\",\"<driver>\",\"--src\",\"/work/src/a b-1.0.tar.gz\"],\"environment\":[\"LANG=C.UTF-8\",\"SOURCE_DATE_EPOCH=1700000000\"],\"build_requirements\":[{\"filename\":\"kilnhelper-1.3-py3-none-any.whl\",\"sha256\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"}]}",
	  NULL, NULL },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":null,\"command\":null,\"build_requirements\":[]}",
	  NULL, NULL },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":{\"id\":\"sha256:abc\"}}",
	  "bad_message", "sha256:<64 lowercase hex>" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":{\"id\":\"sha256:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\"}}",
	  "bad_message", "sha256:<64 lowercase hex>" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":{\"id\":\"sha256:abababababababababababababababababababababababababababababababab\",\"base\":\"latest\"}}",
	  "bad_message", "sha256:<64 lowercase hex>" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":{\"name\":\"kiln/x:1\"}}",
	  "bad_message", "field 'image' must be" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":\"sha256:abababababababababababababababababababababababababababababababab\"}",
	  "bad_message", "field 'image' must be" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":{\"id\":\"sha256:abababababababababababababababababababababababababababababababab\",\"name\":\"kiln/x y\"}}",
	  "bad_message", "image reference" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"command\":[]}",
	  "bad_message", "field 'command' must list 1 to 64" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"command\":\"python3 -m build\"}",
	  "bad_message", "command" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"command\":[\"python3\",3]}",
	  "bad_message", "command: entries must be strings" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"command\":[\"a\\nb\"]}",
	  "bad_message", "without control characters" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"environment\":[\"=x\"]}",
	  "bad_message", "is not NAME=value" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"environment\":[\"1A=x\"]}",
	  "bad_message", "is not NAME=value" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"environment\":[\"LANG\"]}",
	  "bad_message", "is not NAME=value" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"build_requirements\":[{\"filename\":\"../setuptools.whl\",\"sha256\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"}]}",
	  "bad_message", "is not a file name" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"build_requirements\":[{\"filename\":\"..\",\"sha256\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"}]}",
	  "bad_message", "is not a file name" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"build_requirements\":[{\"filename\":\"a b.whl\",\"sha256\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"}]}",
	  "bad_message", "is not a file name" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"build_requirements\":[{\"filename\":\"x.whl\",\"sha256\":\"CDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCD\"}]}",
	  "bad_message", "64 lowercase hex" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"build_requirements\":[{\"filename\":\"x.whl\"}]}",
	  "bad_message", "must list {\"filename\", \"sha256\"}" },
	{ "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"build_requirements\":[\"x.whl\"]}",
	  "bad_message", "must list {\"filename\", \"sha256\"}" },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct builder_msg m;
		struct kerr e;
		int rc;

		kerr_clear(&e);
		rc = builder_msg_parse(&m, cases[i].in, strlen(cases[i].in), &e);
		assert_int_equal(rc, 0);
		rc = builder_msg_check(&m, &e);
		if (!cases[i].code) {
			if (rc)
				fail_msg("case %zu refused: %s", i, e.msg);
		} else {
			if (!rc)
				fail_msg("case %zu accepted", i);
			assert_string_equal(builder_msg_error_code(rc), cases[i].code);
			if (!strstr(e.msg, cases[i].msg))
				fail_msg("case %zu: '%s' does not say '%s'", i, e.msg, cases[i].msg);
		}
		builder_msg_release(&m);
	}
}

static void test_fields(void **state)
{
	static const char in[] = "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\","
				 "\"name\":\"b1\",\"slots\":2,\"targets\":[\"t-1\",\"t.2\"],"
				 "\"running\":[{\"job\":7},{\"job\":9}]}";
	struct builder_msg m;
	(void)state;
	assert_int_equal(builder_msg_parse(&m, in, strlen(in), NULL), 0);
	assert_int_equal(m.type, BUILDER_MSG_HELLO);
	assert_int_equal(builder_msg_check(&m, NULL), 0);
	assert_string_equal(m.name, "b1");
	assert_string_equal(m.version, "");
	assert_int_equal(m.slots, 2);
	assert_string_equal(m.targets_sql, "{t-1,t.2}");
	assert_int_equal(m.nrunning, 2);
	assert_int_equal(m.running[1], 9);
	/* no arch: x86_64 */
	assert_string_equal(m.arch, "x86_64");
	assert_string_equal(m.arches_sql, "{x86_64}");
	builder_msg_release(&m);
}

/* The attempt a progress, log or finish is about; 0 when it names none (a builder before the field). */
static void test_attempt(void **state)
{
	static const struct {
		const char *in;
		long long attempt;
	} att[] = {
		{ "{\"type\":\"progress\",\"job\":3,\"attempt\":2,\"phase\":\"building\"}", 2 },
		{ "{\"type\":\"progress\",\"job\":3,\"phase\":\"building\"}", 0 },
		{ "{\"type\":\"log\",\"job\":3,\"attempt\":1,\"seq\":4,\"data\":\"x\"}", 1 },
		{ "{\"type\":\"log\",\"job\":3,\"seq\":4,\"data\":\"x\"}", 0 },
		{ "{\"type\":\"finish\",\"job\":3,\"attempt\":2147483647,\"status\":\"retry\"}",
		  2147483647 },
		{ "{\"type\":\"finish\",\"job\":3,\"status\":\"retry\"}", 0 },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(att); i++) {
		struct builder_msg m;

		assert_int_equal(builder_msg_parse(&m, att[i].in, strlen(att[i].in), NULL), 0);
		if (builder_msg_check(&m, NULL))
			fail_msg("refused: %s", att[i].in);
		assert_int_equal(m.job, 3);
		if (m.attempt != att[i].attempt)
			fail_msg("%s: attempt %lld", att[i].in, m.attempt);
		builder_msg_release(&m);
	}
}

/* The architectures a hello serves: its own, normalized, then what it emulates, once each. */
static void test_arches(void **state)
{
	static const struct {
		const char *arch_emulates;
		const char *arch, *arches;
	} c[] = {
		{ "\"arch\":\"aarch64\"", "aarch64", "{aarch64}" },
		{ "\"arch\":\"arm64\"", "aarch64", "{aarch64}" },
		{ "\"arch\":\"amd64\",\"emulates\":[\"aarch64\"]", "x86_64", "{x86_64,aarch64}" },
		{ "\"emulates\":[\"arm64\",\"aarch64\",\"x86_64\"]", "x86_64", "{x86_64,aarch64}" },
		{ "\"arch\":\"x86_64\",\"emulates\":[]", "x86_64", "{x86_64}" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(c); i++) {
		char in[512];
		struct builder_msg m;
		struct kerr e;

		snprintf(in, sizeof(in), "{\"type\":\"hello\",\"protocol\":1,\"token\":\"" TOK "\","
			 "\"name\":\"b1\",\"slots\":1,\"targets\":[\"t\"],%s}", c[i].arch_emulates);
		assert_int_equal(builder_msg_parse(&m, in, strlen(in), NULL), 0);
		if (builder_msg_check(&m, &e))
			fail_msg("case %zu refused: %s", i, e.msg);
		assert_string_equal(m.arch, c[i].arch);
		assert_string_equal(m.arches_sql, c[i].arches);
		builder_msg_release(&m);
	}
}

static void test_finish_report(void **state)
{
	static const char in[] = "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\","
				 "\"failure_class\":\"native-dependency\",\"extra\":1,\"missing\":"
				 "[{\"kind\":\"header\",\"name\":\"libpq-fe.h\",\"package\":\"libpq-dev\","
				 "\"junk\":\"x\"},{\"kind\":\"program\",\"name\":\"pg_config\"}]}";
	static const char bare[] = "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\"}";
	static const char req[] = "{\"type\":\"finish\",\"job\":3,\"status\":\"failed\","
				  "\"failure_class\":\"build-requirement\",\"requirement\":\"Py.Cairo\"}";
	struct builder_msg m;
	(void)state;
	assert_int_equal(builder_msg_parse(&m, in, strlen(in), NULL), 0);
	assert_int_equal(builder_msg_check(&m, NULL), 0);
	/* Only the protocol's fields, re-written: nothing else of the builder's reaches SQL. */
	assert_string_equal(m.report,
			    "{\"failure_class\":\"native-dependency\",\"missing\":[{\"kind\":\"header\","
			    "\"name\":\"libpq-fe.h\",\"package\":\"libpq-dev\"},{\"kind\":\"program\","
			    "\"name\":\"pg_config\"}],\"requirement\":null,\"wheels\":[],\"image\":null,\"command\":null,"
			    "\"environment\":null,\"build_requirements\":null}");
	builder_msg_release(&m);
	/* The requirement as the index names it: normalized. */
	assert_int_equal(builder_msg_parse(&m, req, strlen(req), NULL), 0);
	assert_int_equal(builder_msg_check(&m, NULL), 0);
	assert_non_null(strstr(m.report, "\"requirement\":\"py-cairo\","));
	builder_msg_release(&m);
	assert_int_equal(builder_msg_parse(&m, bare, strlen(bare), NULL), 0);
	assert_int_equal(builder_msg_check(&m, NULL), 0);
	assert_string_equal(m.report, "{\"failure_class\":null,\"missing\":[],\"requirement\":null,\"wheels\":[],"
			    "\"image\":null,\"command\":null,\"environment\":null,"
			    "\"build_requirements\":null}");
	builder_msg_release(&m);
}

/* The counts at their limits pass, one more is refused; the report keeps what it checked. */
static void test_finish_how_built(void **state)
{
	struct buf in = BUF_INIT(BUF_NOLIMIT);
	struct builder_msg m;
	struct kerr e;
	(void)state;

	for (int over = 0; over <= 1; over++) {
		buf_reset(&in);
		buf_puts(&in, "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\","
			 "\"build_requirements\":[");
		for (int i = 0; i < BUILDER_MSG_MAX_REQUIREMENTS + over; i++)
			buf_printf(&in, "%s{\"filename\":\"r%d-1.0-py3-none-any.whl\",\"sha256\":"
				   "\"%064d\"}", i ? "," : "", i, i);
		buf_puts(&in, "],\"command\":[");
		for (int i = 0; i < BUILDER_MSG_MAX_ARGS; i++)
			buf_printf(&in, "%s\"a%d\"", i ? "," : "", i);
		buf_puts(&in, "]}");
		kerr_clear(&e);
		assert_int_equal(builder_msg_parse(&m, in.ptr, in.len, &e), 0);
		if (over) {
			assert_int_not_equal(builder_msg_check(&m, &e), 0);
			assert_non_null(strstr(e.msg, "more than 512 files"));
		} else {
			assert_int_equal(builder_msg_check(&m, &e), 0);
			assert_non_null(strstr(m.report, "\"command\":[\"a0\",\"a1\","));
			assert_non_null(strstr(m.report, "{\"filename\":\"r511-1.0-py3-none-any.whl\","
					       "\"sha256\":\"00000000000000000000000000000000000000000000000000"
					       "00000000000511\"}]"));
		}
		builder_msg_release(&m);
	}
	/* One argument too many, one too long. */
	buf_reset(&in);
	buf_puts(&in, "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"command\":[");
	for (int i = 0; i <= BUILDER_MSG_MAX_ARGS; i++)
		buf_printf(&in, "%s\"a\"", i ? "," : "");
	buf_puts(&in, "]}");
	assert_int_equal(builder_msg_parse(&m, in.ptr, in.len, &e), 0);
	assert_int_not_equal(builder_msg_check(&m, &e), 0);
	assert_non_null(strstr(e.msg, "must list 1 to 64 strings"));
	builder_msg_release(&m);
	buf_reset(&in);
	buf_puts(&in, "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"environment\":[\"X=");
	for (int i = 0; i < BUILDER_MSG_MAX_ARG; i++)
		buf_putc(&in, 'y');
	buf_puts(&in, "\"]}");
	assert_int_equal(builder_msg_parse(&m, in.ptr, in.len, &e), 0);
	assert_int_not_equal(builder_msg_check(&m, &e), 0);
	assert_non_null(strstr(e.msg, "at most 1024 bytes"));
	builder_msg_release(&m);
	/* What is stored is the checked text, in the protocol's key order. */
	buf_reset(&in);
	buf_puts(&in, "{\"type\":\"finish\",\"job\":3,\"status\":\"succeeded\",\"image\":{\"name\":"
		 "\"kiln/bookworm-py311:abc\",\"junk\":1,\"id\":\"sha256:");
	for (int i = 0; i < 64; i++)
		buf_putc(&in, 'e');
	buf_puts(&in, "\"},\"environment\":[\"TZ=UTC\"]}");
	assert_int_equal(builder_msg_parse(&m, in.ptr, in.len, &e), 0);
	assert_int_equal(builder_msg_check(&m, &e), 0);
	assert_non_null(strstr(m.report, ",\"image\":{\"id\":\"sha256:eeee"));
	assert_non_null(strstr(m.report, "\",\"name\":\"kiln/bookworm-py311:abc\"},\"command\":null,"
			       "\"environment\":[\"TZ=UTC\"],\"build_requirements\":null}"));
	builder_msg_release(&m);
	buf_release(&in);
}

static void test_not_a_message(void **state)
{
	static const char *const bad[] = { "", "[]", "{\"type\":3}", "{}", "{\"type\":\"log\"} x" };
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct builder_msg m;
		struct kerr e;
		assert_int_not_equal(builder_msg_parse(&m, bad[i], strlen(bad[i]), &e), 0);
		assert_string_equal(builder_msg_error_code(e.code), "bad_message");
		builder_msg_release(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_attempt),
		cmocka_unit_test(test_arches),
		cmocka_unit_test(test_finish_report),
		cmocka_unit_test(test_finish_how_built),
		cmocka_unit_test(test_not_a_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
