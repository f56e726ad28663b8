/* Unit tests for common/fdio: whole writes, short writes through a pipe, errors. */
#include "tests/unit/unit.h"

#include "common/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_file(void **state)
{
	char path[] = "/tmp/kiln-fdio-XXXXXX", back[100];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fdio_write_all(fd, "hello, ", 7), 0);
	assert_int_equal(fdio_write_all(fd, "world", 5), 0);
	assert_int_equal(fdio_write_all(fd, "", 0), 0);
	assert_int_equal(pread(fd, back, sizeof(back), 0), 12);
	assert_memory_equal(back, "hello, world", 12);
	close(fd);
	unlink(path);
}

/* A pipe takes at most its buffer per write: the rest goes in later writes. */
static void test_pipe_short_writes(void **state)
{
	enum { N = 1 << 20 };
	char *data = malloc(N), *back = malloc(N);
	int p[2];
	size_t got = 0;
	pid_t pid;

	(void)state;
	for (size_t i = 0; i < N; i++)
		data[i] = (char)(i * 7);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(fdio_write_all(p[1], data, N) ? 1 : 0);
	}
	close(p[1]);
	for (ssize_t r; (r = read(p[0], back + got, N - got)) > 0;)
		got += (size_t)r;
	close(p[0]);
	assert_int_equal(got, N);
	assert_memory_equal(back, data, N);
	free(data);
	free(back);
}

static void test_errors(void **state)
{
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	errno = 0;
	assert_int_equal(fdio_write_all(fd, "x", 1), -1);
	assert_int_equal(errno, EBADF);
	close(fd);
	errno = 0;
	assert_int_equal(fdio_write_all(-1, "x", 1), -1);
	assert_int_equal(errno, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_pipe_short_writes),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
