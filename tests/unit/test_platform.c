/*
 * Unit tests for builder/platform (architectures, the platform ladder, the
 * binfmt check of KILN_BUILDER_EMULATE) and builder/targets (KILN_BUILDER_TARGETS,
 * the backend's target list): issue 16.
 */
#include "tests/unit/unit.h"

#include "builder/platform.h"
#include "builder/targets.h"
#include "common/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_arch_normalize(void **state)
{
	static const struct { const char *in, *out; } rows[] = {
		{ "x86_64", "x86_64" }, { "amd64", "x86_64" }, { "aarch64", "aarch64" },
		{ "arm64", "aarch64" }, { "ppc64le", "ppc64le" }, { "riscv64", "riscv64" },
		{ "", NULL }, { "X86_64", NULL }, { "x86-64", NULL }, { "arm64 ", NULL },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL },
	};
	char out[PLATFORM_ARCH_MAX];
	struct kerr e;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		int rc = platform_arch_normalize(rows[i].in, out, &e);
		if (rows[i].out ? rc || strcmp(out, rows[i].out) : rc != KERR_INVAL)
			fail_msg("'%s': rc %d, '%s'", rows[i].in, rc, out);
	}
	assert_int_equal(platform_host_arch(out, &e), 0);
	assert_true(strlen(out) > 0);
	assert_string_equal(platform_docker_arch("aarch64"), "arm64");
	assert_string_equal(platform_docker_arch("x86_64"), "amd64");
}

static void test_ladder(void **state)
{
	struct platform_ladder l;
	struct kerr e;

	(void)state;
	assert_int_equal(platform_ladder(&l, "x86_64", "2.36", &e), 0);
	/* manylinux_2_36 .. manylinux_2_17 (20), manylinux2014, linux, any */
	assert_int_equal(l.n, 23);
	assert_string_equal(l.v[0], "manylinux_2_36_x86_64");
	assert_string_equal(l.v[1], "manylinux_2_35_x86_64");
	assert_string_equal(l.v[19], "manylinux_2_17_x86_64");
	assert_string_equal(l.v[20], "manylinux2014_x86_64");
	assert_string_equal(l.v[21], "linux_x86_64");
	assert_string_equal(l.v[22], "any");
	assert_null(l.v[23]);

	assert_int_equal(platform_ladder(&l, "arm64", "2.41", &e), 0);
	assert_int_equal(l.n, 28);
	assert_string_equal(l.v[0], "manylinux_2_41_aarch64");
	assert_string_equal(l.v[25], "manylinux2014_aarch64");
	assert_string_equal(l.v[26], "linux_aarch64");

	/* No glibc: the oldest manylinux, which every Kiln image satisfies. */
	assert_int_equal(platform_ladder(&l, "aarch64", NULL, &e), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0], "manylinux_2_17_aarch64");
	assert_int_equal(platform_ladder(&l, "aarch64", "", &e), 0);
	assert_int_equal(l.n, 4);

	/* Older than manylinux knows: the plain platform and pure wheels only. */
	assert_int_equal(platform_ladder(&l, "x86_64", "2.12", &e), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "linux_x86_64");
	assert_string_equal(l.v[1], "any");

	assert_int_equal(platform_ladder(&l, "x86_64", "2.99", &e), 0);
	assert_int_equal(l.n, PLATFORM_LADDER_MAX);

	static const char *const bad_glibc[] = { "2", "2.", "2.x", "3.36", "2.36.1", "2.100", "2.-1",
						 " 2.36", "2.036x" };
	for (size_t i = 0; i < ARRAY_LEN(bad_glibc); i++)
		if (platform_ladder(&l, "x86_64", bad_glibc[i], &e) != KERR_INVAL)
			fail_msg("glibc '%s' accepted", bad_glibc[i]);
	assert_int_equal(platform_ladder(&l, "x86 64", "2.36", &e), KERR_INVAL);
}

static void test_parse_arches(void **state)
{
	char out[PLATFORM_MAX_EMULATED][PLATFORM_ARCH_MAX];
	size_t n = 99;
	struct kerr e;

	(void)state;
	assert_int_equal(platform_parse_arches("", "x86_64", out, PLATFORM_MAX_EMULATED, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(platform_parse_arches("arm64, aarch64,", "x86_64", out, PLATFORM_MAX_EMULATED,
					       &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "aarch64");
	/* The machine's own arch needs no emulation. */
	assert_int_equal(platform_parse_arches("amd64,aarch64", "x86_64", out, PLATFORM_MAX_EMULATED,
					       &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "aarch64");
	assert_int_equal(platform_parse_arches("aarch64,ARM", "x86_64", out, PLATFORM_MAX_EMULATED,
					       &n, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "ARM"));
	assert_int_equal(platform_parse_arches("a,b,c,d,f", "x86_64", out, PLATFORM_MAX_EMULATED, &n,
					       &e), KERR_INVAL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_emulation_check(void **state)
{
	char dir[] = "/tmp/kiln-binfmt-XXXXXX", path[600];
	struct kerr e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(platform_emulation_check("aarch64", dir, &e), KERR_NOTFOUND);
	assert_non_null(strstr(e.msg, "scripts/emulation.sh enable"));
	snprintf(path, sizeof(path), "%s/qemu-aarch64", dir);
	write_file(path, "disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n");
	assert_int_equal(platform_emulation_check("aarch64", dir, &e), KERR_NOTFOUND);
	assert_non_null(strstr(e.msg, "not enabled"));
	write_file(path, "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n");
	assert_int_equal(platform_emulation_check("aarch64", dir, &e), 0);
	unlink(path);
	rmdir(dir);
}

static void test_targets_config(void **state)
{
	struct targets_config tc;
	struct kerr e;

	(void)state;
	assert_int_equal(targets_parse_config("auto", &tc, &e), 0);
	assert_true(tc.automatic);
	assert_int_equal(tc.n, 0);
	/* The old form: a list of names. */
	assert_int_equal(targets_parse_config("bookworm-py311-x86_64", &tc, &e), 0);
	assert_false(tc.automatic);
	assert_int_equal(tc.n, 1);
	assert_string_equal(tc.names[0], "bookworm-py311-x86_64");
	assert_int_equal(targets_parse_config(" trixie-py313-x86_64, forky-py314-aarch64 ,", &tc, &e), 0);
	assert_int_equal(tc.n, 2);
	assert_string_equal(tc.names[1], "forky-py314-aarch64");

	static const char *const bad[] = { "", " , ", "auto,bookworm-py311-x86_64", "Bookworm",
					   "a,a", "x/y",
					   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (targets_parse_config(bad[i], &tc, &e) != KERR_INVAL)
			fail_msg("KILN_BUILDER_TARGETS='%s' accepted", bad[i]);
}

static void test_targets_list(void **state)
{
	static const char body[] =
		"{\"targets\":["
		"{\"name\":\"bookworm-py311-x86_64\",\"image\":\"kiln/bookworm-py311:abc\",\"enabled\":true},"
		"{\"name\":\"trixie-py313-aarch64\",\"image\":\"kiln/trixie-py313-aarch64:abc\","
		" \"arch\":\"aarch64\",\"suite\":\"trixie\",\"glibc\":\"2.41\",\"enabled\":false,\"builders\":0},"
		"{\"name\":\"Bad Name\",\"image\":\"x\",\"enabled\":true},"
		"{\"name\":\"noimage\",\"enabled\":true},"
		"{\"name\":\"badarch\",\"image\":\"x\",\"arch\":\"x 86\",\"enabled\":true}]}";
	struct targets_list l;
	struct targets_arches a;
	struct kerr e;

	(void)state;
	assert_int_equal(targets_parse_list(body, strlen(body), &l, &e), 0);
	assert_int_equal(l.n, 2);
	/* No arch (a backend before issue 16): x86_64. */
	assert_string_equal(l.v[0].arch, "x86_64");
	assert_true(l.v[0].enabled);
	assert_string_equal(l.v[1].arch, "aarch64");
	assert_string_equal(l.v[1].image, "kiln/trixie-py313-aarch64:abc");
	assert_false(l.v[1].enabled);
	targets_list_release(&l);
	assert_int_equal(targets_parse_list("[]", 2, &l, &e), KERR_INVAL);
	assert_int_equal(targets_parse_list("{}", 2, &l, &e), KERR_INVAL);

	memset(&a, 0, sizeof(a));
	snprintf(a.host, sizeof(a.host), "x86_64");
	assert_true(targets_arch_served(&a, "x86_64"));
	assert_false(targets_arch_served(&a, "aarch64"));
	snprintf(a.emulated[a.nemulated++], PLATFORM_ARCH_MAX, "aarch64");
	assert_true(targets_arch_served(&a, "aarch64"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arch_normalize),
		cmocka_unit_test(test_ladder),
		cmocka_unit_test(test_parse_arches),
		cmocka_unit_test(test_emulation_check),
		cmocka_unit_test(test_targets_config),
		cmocka_unit_test(test_targets_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
