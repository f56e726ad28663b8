/*
 * Unit tests for common/stopflag: a raised flag is seen, a sleep ends early
 * (returning 1) when another thread raises the flag, and runs its course
 * (returning 0) when nobody does.
 */
#include "tests/unit/unit.h"

#include "common/stopflag.h"

#include <pthread.h>
#include <unistd.h>

static void test_raise(void **state)
{
	atomic_int f = 0;
	(void)state;
	assert_false(stopflag_up(&f));
	assert_false(stopflag_up(NULL));
	stopflag_raise(&f);
	assert_true(stopflag_up(&f));
	/* Already raised: no sleep at all. */
	assert_int_equal(stopflag_sleep_ms(&f, 3600 * 1000u), 1);
}

static void *raiser(void *arg)
{
	usleep(50 * 1000);
	stopflag_raise(arg);
	return NULL;
}

/* An hour's sleep (as a job's upload retry could be) ends when another thread raises the flag. */
static void test_sleep_wakes_when_raised(void **state)
{
	atomic_int f = 0;
	pthread_t t;
	(void)state;
	assert_int_equal(pthread_create(&t, NULL, raiser, &f), 0);
	assert_int_equal(stopflag_sleep_ms(&f, 3600 * 1000u), 1);
	pthread_join(t, NULL);
}

static void test_sleep_without_raise(void **state)
{
	atomic_int f = 0;
	(void)state;
	assert_int_equal(stopflag_sleep_ms(&f, 30), 0);
	assert_int_equal(stopflag_sleep_ms(NULL, 30), 0);
	assert_false(stopflag_up(&f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raise),
		cmocka_unit_test(test_sleep_wakes_when_raised),
		cmocka_unit_test(test_sleep_without_raise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
