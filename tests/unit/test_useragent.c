/*
 * Unit tests for common/useragent. The pip strings are what pip's
 * network/session.py user_agent() returns (the 23.2.1 one was printed by the
 * pip in .kiln/venv); the uv ones follow crates/uv-client linehaul.rs, which
 * serializes its struct fields in declaration order with nulls kept.
 */
#include "tests/unit/unit.h"

#include "common/useragent.h"

#include <string.h>

static const struct {
	const char *ua;
	const char *installer, *version, *python;
} cases[] = {
	/* pip, as sent by real installs. */
	{ "pip/23.0.1 {\"ci\":null,\"cpu\":\"x86_64\",\"distro\":{\"id\":\"bookworm\",\"libc\":"
	  "{\"lib\":\"glibc\",\"version\":\"2.36\"},\"name\":\"Debian GNU/Linux\",\"version\":\"12\"},"
	  "\"implementation\":{\"name\":\"CPython\",\"version\":\"3.11.2\"},\"installer\":{\"name\":"
	  "\"pip\",\"version\":\"23.0.1\"},\"openssl_version\":\"OpenSSL 3.0.11 19 Sep 2023\","
	  "\"python\":\"3.11.2\",\"setuptools_version\":\"66.1.1\",\"system\":{\"name\":\"Linux\","
	  "\"release\":\"6.1.0-13-amd64\"}}",
	  "pip", "23.0.1", "3.11" },
	{ "pip/23.2.1 {\"ci\":null,\"cpu\":\"x86_64\",\"distro\":{\"id\":\"bookworm\",\"libc\":"
	  "{\"lib\":\"glibc\",\"version\":\"2.36\"},\"name\":\"Debian GNU/Linux\",\"version\":\"12\"},"
	  "\"implementation\":{\"name\":\"CPython\",\"version\":\"3.11.7\"},\"installer\":{\"name\":"
	  "\"pip\",\"version\":\"23.2.1\"},\"openssl_version\":\"OpenSSL 3.0.22 25 Aug 2026\","
	  "\"python\":\"3.11.7\",\"rustc_version\":\"1.95.0\",\"setuptools_version\":\"65.5.0\","
	  "\"system\":{\"name\":\"Linux\",\"release\":\"6.18.44-fc-v669\"}}",
	  "pip", "23.2.1", "3.11" },
	/* pip on PyPy: "python" is the language version, implementation.version PyPy's. */
	{ "pip/24.0 {\"ci\":true,\"cpu\":\"aarch64\",\"implementation\":{\"name\":\"PyPy\","
	  "\"version\":\"7.3.15\"},\"installer\":{\"name\":\"pip\",\"version\":\"24.0\"},"
	  "\"python\":\"3.10.13\",\"system\":{\"name\":\"Darwin\",\"release\":\"23.1.0\"}}",
	  "pip", "24.0", "3.10" },
	/* pip with user data appended by PIP_USER_AGENT_USER_DATA. */
	{ "pip/25.1 {\"installer\":{\"name\":\"pip\",\"version\":\"25.1\"},\"python\":\"3.13.0rc1\","
	  "\"user_data\":\"team x\"}",
	  "pip", "25.1", "3.13" },
	/* uv. */
	{ "uv/0.4.30 {\"installer\":{\"name\":\"uv\",\"version\":\"0.4.30\"},\"python\":\"3.12.7\","
	  "\"implementation\":{\"name\":\"CPython\",\"version\":\"3.12.7\"},\"distro\":{\"name\":"
	  "\"Ubuntu\",\"version\":\"22.04\",\"id\":\"jammy\",\"libc\":{\"lib\":\"glibc\",\"version\":"
	  "\"2.35\"}},\"system\":{\"name\":\"Linux\",\"release\":\"6.5.0-1025-azure\"},\"cpu\":"
	  "\"x86_64\",\"openssl_version\":null,\"setuptools_version\":null,\"rustc_version\":null,"
	  "\"ci\":true}",
	  "uv", "0.4.30", "3.12" },
	/* uv on Windows: no distro, nulls everywhere else. */
	{ "uv/0.5.1 {\"installer\":{\"name\":\"uv\",\"version\":\"0.5.1\"},\"python\":\"3.13.0\","
	  "\"implementation\":{\"name\":\"CPython\",\"version\":\"3.13.0\"},\"distro\":null,"
	  "\"system\":{\"name\":\"Windows\",\"release\":\"10\"},\"cpu\":\"AMD64\","
	  "\"openssl_version\":null,\"setuptools_version\":null,\"rustc_version\":null,\"ci\":null}",
	  "uv", "0.5.1", "3.13" },
	/* uv without an interpreter (no markers): the product token alone. */
	{ "uv/0.4.30", "uv", "0.4.30", "" },
	/* uv pip (linehaul installer name "uv-pip" in newer uv). */
	{ "uv/0.9.9 {\"installer\":{\"name\":\"uv-pip\",\"version\":\"0.9.9\"},\"python\":null}",
	  "uv-pip", "0.9.9", "" },
	/* Old pip: no JSON, the interpreter as a product token. */
	{ "pip/1.5.6 CPython/2.7.6 Linux/3.13.0-24-generic", "pip", "1.5.6", "2.7" },
	{ "pip/6.0 PyPy/2.4.0 Darwin/14.0.0", "pip", "6.0", "" },
	/* Other clients. */
	{ "python-requests/2.31.0", "python-requests", "2.31.0", "" },
	{ "Python-urllib/3.11", "python-urllib", "3.11", "" },
	{ "curl/8.1.2", "curl", "8.1.2", "" },
	{ "Wget/1.21.3", "wget", "1.21.3", "" },
	{ "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0", "mozilla",
	  "5.0", "" },
	{ "poetry/1.8.3 Python/3.12.4 Linux/6.8", "poetry", "1.8.3", "3.12" },
	{ "Bandersnatch/6.5.0", "bandersnatch", "6.5.0", "" },
	{ "devpi-server/6.10.0 (py3.11.4; linux)", "devpi-server", "6.10.0", "" },
	{ "pdm/2.15.4 CPython/3.12.3 Linux/6.5", "pdm", "2.15.4", "3.12" },
	{ "twine/5.0.0", "twine", "5.0.0", "" },
	{ "  pip/9.0.1   ", "pip", "9.0.1", "" },
	{ "PIP/9.0.1RC1", "pip", "9.0.1rc1", "" },
	{ "pip", "pip", "", "" },
	{ "pip/", "pip", "", "" },
	/* Nothing usable. */
	{ NULL, "unknown", "", "" },
	{ "", "unknown", "", "" },
	{ "   ", "unknown", "", "" },
	{ "/1.0", "unknown", "", "" },
	{ "{\"installer\":{\"name\":\"pip\"}}", "unknown", "", "" },
	{ "p\xc3\xafp/1.0", "unknown", "", "" },
	{ "a/b/c", "a", "", "" },
	{ "x;y/1", "unknown", "", "" },
	{ "\x01\x02\x03/\x04", "unknown", "", "" },
	/* Bounded lengths: a name of 33 bytes is refused, 32 kept; long versions dropped. */
	{ "abcdefghijabcdefghijabcdefghijabc/1", "unknown", "", "" },
	{ "abcdefghijabcdefghijabcdefghijab/1", "abcdefghijabcdefghijabcdefghijab", "1", "" },
	{ "pip/123456789012345678901234567890123", "pip", "", "" },
	/* Broken or hostile JSON: the product token still counts. */
	{ "pip/23.0 {", "pip", "23.0", "" },
	{ "pip/23.0 {\"installer\":", "pip", "23.0", "" },
	{ "pip/23.0 {\"installer\":{\"name\":\"pip\",\"version\":\"23.0\"},\"python\":\"3.11.2\"",
	  "pip", "23.0", "" },
	{ "pip/23.0 []", "pip", "23.0", "" },
	{ "pip/23.0 {\"installer\":\"pip\",\"python\":3.11}", "pip", "23.0", "" },
	{ "pip/23.0 {\"installer\":{\"name\":7,\"version\":\"1\"}}", "pip", "23.0", "" },
	{ "x/1 {\"installer\":{\"name\":\"Evil Name\",\"version\":\"1\"}}", "x", "1", "" },
	{ "x/1 {\"installer\":{\"name\":\"ok\",\"version\":\"bad version\"}}", "ok", "", "" },
	{ "x/1 {\"installer\":{\"name\":\"ok\"}}", "ok", "", "" },
	{ "x/1 {\"installer\":{\"name\":\"\",\"version\":\"1\"}}", "x", "1", "" },
	{ "x/1 {\"installer\":{\"name\":\"a\\u0000b\",\"version\":\"1\"}}", "a", "1", "" },
	{ "x/1 {\"python\":\"3\"}", "x", "1", "" },
	{ "x/1 {\"python\":\"3.\"}", "x", "1", "" },
	{ "x/1 {\"python\":\".11\"}", "x", "1", "" },
	{ "x/1 {\"python\":\"3.1234\"}", "x", "1", "" },
	{ "x/1 {\"python\":\"1234.1\"}", "x", "1", "" },
	{ "x/1 {\"python\":\"999.999.999\"}", "x", "1", "999.999" },
	{ "x/1 {\"python\":\"3.11\"} trailing", "x", "1", "3.11" },
	{ "x/1 {\"python\":\"3.11\",\"python\":\"2.7\"}", "x", "1", "3.11" },
	{ "x/1 CPython/3.x", "x", "1", "" },
	{ "x/1 CPython/", "x", "1", "" },
	{ "x/1 cpython/3.9.1", "x", "1", "3.9" },
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct useragent ua;
		const char *s = cases[i].ua;

		memset(&ua, 'x', sizeof(ua));
		useragent_parse(s, s ? strlen(s) : 0, &ua);
		if (strcmp(ua.installer, cases[i].installer) ||
		    strcmp(ua.installer_version, cases[i].version) ||
		    strcmp(ua.python, cases[i].python))
			fail_msg("case %zu ('%.60s'): got %s/%s py %s, want %s/%s py %s", i,
				 s ? s : "(null)", ua.installer, ua.installer_version, ua.python,
				 cases[i].installer, cases[i].version, cases[i].python);
	}
}

/* Not NUL-terminated input; NUL bytes inside end it. */
static void test_lengths(void **state)
{
	static const char head[] = "pip/9 {\"python\":\"3.11\",\"x\":\"";
	struct useragent ua;
	char big[3 * USERAGENT_INPUT_MAX];

	(void)state;
	useragent_parse("pip/1.0XXXX", 7, &ua);
	assert_string_equal(ua.installer, "pip");
	assert_string_equal(ua.installer_version, "1.0");
	useragent_parse("uv/2\0 {\"python\":\"3.11\"}", 24, &ua);
	assert_string_equal(ua.installer, "uv");
	assert_string_equal(ua.installer_version, "2");
	assert_string_equal(ua.python, "");
	useragent_parse("pip/1.0", 0, &ua);
	assert_string_equal(ua.installer, "unknown");

	/* Over the input limit: the JSON is cut, so only the product token counts. */
	memset(big, ' ', sizeof(big));
	memcpy(big, head, sizeof(head) - 1);
	memcpy(big + sizeof(big) - 3, "\"}", 2);
	big[sizeof(big) - 1] = '\0';
	useragent_parse(big, strlen(big), &ua);
	assert_string_equal(ua.installer, "pip");
	assert_string_equal(ua.python, "");

	/* Deep nesting is refused by cJSON's limit, not by the stack. */
	memset(big, '[', sizeof(big));
	memcpy(big, "pip/9 {\"a\":", 11);
	useragent_parse(big, USERAGENT_INPUT_MAX, &ua);
	assert_string_equal(ua.installer, "pip");
}

/* Every byte value in every position of a short string: no crash, sane output. */
static void test_garbage(void **state)
{
	static const char seed[] = "pip/1.2 {\"installer\":{\"name\":\"p\",\"version\":\"1\"},\"python\":\"3.11\"}";
	char s[sizeof(seed)];

	(void)state;
	for (size_t pos = 0; pos < sizeof(seed) - 1; pos++) {
		for (int b = 0; b < 256; b++) {
			struct useragent ua;
			memcpy(s, seed, sizeof(seed));
			s[pos] = (char)b;
			useragent_parse(s, sizeof(seed) - 1, &ua);
			assert_true(strlen(ua.installer) >= 1 && strlen(ua.installer) <= USERAGENT_NAME_MAX);
			assert_true(strlen(ua.installer_version) <= USERAGENT_VERSION_MAX);
			assert_true(strlen(ua.python) <= USERAGENT_PYTHON_MAX);
			for (const char *p = ua.installer; *p; p++)
				assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
					    strchr("._+-", *p));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
