/* Unit tests for common/dirs: mkdir -p, and rm -rf that never follows a link. */
#include "tests/unit/unit.h"

#include "common/dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/kiln-test-dirs-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return dirs_remove_tree(root);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void test_mkdir_p(void **state)
{
	char p[256];
	struct stat st;
	(void)state;
	snprintf(p, sizeof(p), "%s/a/b/c", root);
	assert_int_equal(dirs_mkdir_p(p), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(dirs_mkdir_p(p), 0); /* again: fine */
	snprintf(p, sizeof(p), "%s/file", root);
	touch(p);
	snprintf(p, sizeof(p), "%s/file/sub", root);
	assert_int_equal(dirs_mkdir_p(p), -1); /* a file in the way */
}

static void test_remove_tree_keeps_what_links_point_to(void **state)
{
	char tree[256], p[300], outside[256], link[300];
	struct stat st;
	(void)state;
	snprintf(tree, sizeof(tree), "%s/tree", root);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	snprintf(p, sizeof(p), "%s/x/y", tree);
	assert_int_equal(dirs_mkdir_p(p), 0);
	assert_int_equal(dirs_mkdir_p(outside), 0);
	snprintf(p, sizeof(p), "%s/x/y/f", tree);
	touch(p);
	snprintf(p, sizeof(p), "%s/keep", outside);
	touch(p);
	snprintf(link, sizeof(link), "%s/x/to-outside", tree);
	assert_int_equal(symlink(outside, link), 0);
	/* A read-only directory with a file in it, as pip and cargo leave. */
	snprintf(p, sizeof(p), "%s/x/y", tree);
	assert_int_equal(chmod(p, 0555), 0);
	assert_int_equal(dirs_remove_tree(tree), 0);
	assert_int_equal(lstat(tree, &st), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(p, sizeof(p), "%s/keep", outside);
	assert_int_equal(stat(p, &st), 0);
	/* Gone already, a file, a link: all fine. */
	assert_int_equal(dirs_remove_tree(tree), 0);
	/* A link given as the tree: the link goes, the directory it names stays. */
	snprintf(link, sizeof(link), "%s/link", root);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(dirs_remove_tree(link), 0);
	assert_int_equal(lstat(link, &st), -1);
	snprintf(p, sizeof(p), "%s/keep", outside);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(dirs_remove_tree(p), 0);
	assert_int_equal(stat(p, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_tree_keeps_what_links_point_to, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
