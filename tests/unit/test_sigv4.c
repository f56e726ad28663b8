/*
 * Unit tests for common/sigv4, against the worked examples of AWS's S3
 * documentation ("Signature Calculations for the Authorization Header" and
 * "Query String Authentication"): same credentials, same date, same expected
 * canonical requests, strings to sign and signatures.
 */
#include "tests/unit/unit.h"

#include "common/sigv4.h"

#include <string.h>

#define EX_DATE "20130524T000000Z"
#define EX_HOST "examplebucket.s3.amazonaws.com"

static const struct sigv4_creds ex_creds = {
	"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"
};

/* The signature at the end of an Authorization header value. */
static const char *sig_of(const struct buf *auth)
{
	const char *p = strstr(auth->ptr, "Signature=");
	assert_non_null(p);
	return p + strlen("Signature=");
}

static void test_amz_date(void **state)
{
	char d[SIGV4_DATE_LEN + 1];
	(void)state;
	sigv4_amz_date(1369353600, d);
	assert_string_equal(d, EX_DATE);
	sigv4_amz_date(0, d);
	assert_string_equal(d, "19700101T000000Z");
}

static void test_uri_encode(void **state)
{
	static const struct {
		const char *in;
		int keep_slash;
		const char *want;
	} cases[] = {
		{ "", 0, "" },
		{ "A-z_0.9~", 0, "A-z_0.9~" },
		{ "a b", 0, "a%20b" },
		{ "a+b", 0, "a%2Bb" },
		{ "100%", 0, "100%25" },
		{ "test$file.text", 1, "test%24file.text" },
		{ "a/b", 1, "a/b" },
		{ "a/b", 0, "a%2Fb" },
		{ "=&?#*", 0, "%3D%26%3F%23%2A" },
		{ "\xc3\xa9", 0, "%C3%A9" },
		{ "!'()", 1, "%21%27%28%29" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf b = BUF_INIT(BUF_NOLIMIT);
		assert_int_equal(sigv4_uri_encode(&b, cases[i].in, cases[i].keep_slash), 0);
		if (!buf_eq(&b, cases[i].want))
			fail_msg("case %zu: got '%s', want '%s'", i, b.ptr, cases[i].want);
		buf_release(&b);
	}
}

static void test_canonical_query(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	const struct sigv4_pair q1[] = { { "prefix", "J" }, { "max-keys", "2" } };
	const struct sigv4_pair q2[] = { { "uploads", "" } };
	const struct sigv4_pair q3[] = { { "b", "2" }, { "a", "x y/z" }, { "b", "1" } };
	(void)state;
	assert_int_equal(sigv4_canonical_query(&b, q1, 2), 0);
	assert_string_equal(b.ptr, "max-keys=2&prefix=J");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_query(&b, q2, 1), 0);
	assert_string_equal(b.ptr, "uploads=");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_query(&b, q3, 3), 0);
	assert_string_equal(b.ptr, "a=x%20y%2Fz&b=1&b=2");
	buf_reset(&b);
	assert_int_equal(sigv4_canonical_query(&b, NULL, 0), 0);
	assert_string_equal(b.ptr, "");
	buf_release(&b);
}

/* GET Object with a Range header: every intermediate value of the example. */
static void test_get_object_example(void **state)
{
	struct buf creq = BUF_INIT(BUF_NOLIMIT), sh = BUF_INIT(BUF_NOLIMIT);
	struct buf sts = BUF_INIT(BUF_NOLIMIT), auth = BUF_INIT(BUF_NOLIMIT);
	const struct sigv4_pair hdrs[] = { { "Range", "bytes=0-9" } };
	struct sigv4_req r = { "GET", EX_HOST, "/test.txt", NULL, 0, hdrs, 1,
			       SIGV4_EMPTY_SHA256, EX_DATE };
	char sig[65];
	struct kerr e;
	(void)state;

	assert_int_equal(sigv4_canonical_request(&r, &creq, &sh, &e), 0);
	assert_string_equal(creq.ptr,
		"GET\n"
		"/test.txt\n"
		"\n"
		"host:examplebucket.s3.amazonaws.com\n"
		"range:bytes=0-9\n"
		"x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		"x-amz-date:20130524T000000Z\n"
		"\n"
		"host;range;x-amz-content-sha256;x-amz-date\n"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(sh.ptr, "host;range;x-amz-content-sha256;x-amz-date");
	assert_int_equal(sigv4_string_to_sign(&ex_creds, EX_DATE, creq.ptr, &sts), 0);
	assert_string_equal(sts.ptr,
		"AWS4-HMAC-SHA256\n"
		"20130524T000000Z\n"
		"20130524/us-east-1/s3/aws4_request\n"
		"7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	assert_int_equal(sigv4_signature(&ex_creds, EX_DATE, sts.ptr, sig), 0);
	assert_string_equal(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

	assert_int_equal(sigv4_authorization(&ex_creds, &r, &auth, &e), 0);
	assert_string_equal(auth.ptr,
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	buf_release(&creq);
	buf_release(&sh);
	buf_release(&sts);
	buf_release(&auth);
}

/* PUT Object: a key needing encoding, a signed payload, header values with spaces. */
static void test_put_object_example(void **state)
{
	struct buf creq = BUF_INIT(BUF_NOLIMIT), sts = BUF_INIT(BUF_NOLIMIT);
	struct buf auth = BUF_INIT(BUF_NOLIMIT);
	const struct sigv4_pair hdrs[] = {
		{ "Date", "  Fri, 24 May 2013   00:00:00 GMT " },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
	};
	struct sigv4_req r = { "PUT", EX_HOST, "/test$file.text", NULL, 0, hdrs, 2,
			       "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			       EX_DATE };
	struct kerr e;
	(void)state;

	assert_int_equal(sigv4_canonical_request(&r, &creq, NULL, &e), 0);
	assert_string_equal(creq.ptr,
		"PUT\n"
		"/test%24file.text\n"
		"\n"
		"date:Fri, 24 May 2013 00:00:00 GMT\n"
		"host:examplebucket.s3.amazonaws.com\n"
		"x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
		"x-amz-date:20130524T000000Z\n"
		"x-amz-storage-class:REDUCED_REDUNDANCY\n"
		"\n"
		"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
		"44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	assert_int_equal(sigv4_string_to_sign(&ex_creds, EX_DATE, creq.ptr, &sts), 0);
	assert_non_null(strstr(sts.ptr,
		"\n9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"));
	assert_int_equal(sigv4_authorization(&ex_creds, &r, &auth, &e), 0);
	assert_string_equal(sig_of(&auth),
			    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	buf_release(&creq);
	buf_release(&sts);
	buf_release(&auth);
}

/* GET Bucket Lifecycle: a query parameter without a value. */
static void test_lifecycle_example(void **state)
{
	struct buf auth = BUF_INIT(BUF_NOLIMIT);
	const struct sigv4_pair q[] = { { "lifecycle", "" } };
	struct sigv4_req r = { "GET", EX_HOST, "/", q, 1, NULL, 0, SIGV4_EMPTY_SHA256, EX_DATE };
	(void)state;
	assert_int_equal(sigv4_authorization(&ex_creds, &r, &auth, NULL), 0);
	assert_string_equal(sig_of(&auth),
			    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	buf_release(&auth);
}

/* GET Bucket (List Objects): query parameters given out of order. */
static void test_list_objects_example(void **state)
{
	struct buf creq = BUF_INIT(BUF_NOLIMIT), sts = BUF_INIT(BUF_NOLIMIT);
	struct buf auth = BUF_INIT(BUF_NOLIMIT);
	const struct sigv4_pair q[] = { { "prefix", "J" }, { "max-keys", "2" } };
	struct sigv4_req r = { "GET", EX_HOST, "/", q, 2, NULL, 0, SIGV4_EMPTY_SHA256, EX_DATE };
	(void)state;
	assert_int_equal(sigv4_canonical_request(&r, &creq, NULL, NULL), 0);
	assert_non_null(strstr(creq.ptr, "GET\n/\nmax-keys=2&prefix=J\nhost:"));
	assert_int_equal(sigv4_string_to_sign(&ex_creds, EX_DATE, creq.ptr, &sts), 0);
	assert_non_null(strstr(sts.ptr,
		"\ndf57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"));
	assert_int_equal(sigv4_authorization(&ex_creds, &r, &auth, NULL), 0);
	assert_string_equal(sig_of(&auth),
			    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	buf_release(&creq);
	buf_release(&sts);
	buf_release(&auth);
}

/* Query String Authentication: the presigned URL of the example, byte for byte. */
static void test_presign_example(void **state)
{
	struct buf url = BUF_INIT(BUF_NOLIMIT);
	struct sigv4_req r = { "GET", EX_HOST, "/test.txt", NULL, 0, NULL, 0, NULL, EX_DATE };
	struct kerr e;
	(void)state;
	assert_int_equal(sigv4_presign(&ex_creds, "https", &r, 86400, &url, &e), 0);
	assert_string_equal(url.ptr,
		"https://examplebucket.s3.amazonaws.com/test.txt"
		"?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	buf_release(&url);
}

/* Path-style, a port in the host, and a key that needs encoding. */
static void test_presign_path_style(void **state)
{
	struct buf url = BUF_INIT(BUF_NOLIMIT);
	struct sigv4_req r = { "GET", "127.0.0.1:8333", "/kiln/a b/c.whl", NULL, 0, NULL, 0,
			       NULL, EX_DATE };
	(void)state;
	assert_int_equal(sigv4_presign(&ex_creds, "http", &r, 300, &url, NULL), 0);
	assert_true(!strncmp(url.ptr, "http://127.0.0.1:8333/kiln/a%20b/c.whl?X-Amz-Algorithm=", 55));
	assert_non_null(strstr(url.ptr, "&X-Amz-Expires=300&"));
	buf_release(&url);
}

static void test_errors(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	const struct sigv4_pair dup[] = { { "X-Amz-Date", EX_DATE } };
	const struct sigv4_pair crlf[] = { { "x-note", "a\r\nEvil: 1" } };
	const struct sigv4_pair badname[] = { { "bad name", "x" } };
	struct sigv4_req r = { "GET", EX_HOST, "/k", NULL, 0, NULL, 0, SIGV4_EMPTY_SHA256,
			       "2013-05-24" };
	struct kerr e;
	(void)state;

	assert_int_equal(sigv4_authorization(&ex_creds, &r, &b, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "invalid x-amz-date"));
	r.amz_date = EX_DATE;
	r.headers = dup;
	r.nheaders = 1;
	assert_int_equal(sigv4_authorization(&ex_creds, &r, &b, &e), KERR_INVAL);
	assert_string_equal(e.msg, "header 'x-amz-date' given twice");
	r.headers = crlf;
	assert_int_equal(sigv4_authorization(&ex_creds, &r, &b, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "line break"));
	r.headers = badname;
	assert_int_equal(sigv4_authorization(&ex_creds, &r, &b, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "invalid header name"));
	r.headers = NULL;
	r.nheaders = 0;
	assert_int_equal(sigv4_presign(&ex_creds, "http", &r, 0, &b, &e), KERR_INVAL);
	assert_int_equal(sigv4_presign(&ex_creds, "http", &r, SIGV4_PRESIGN_MAX + 1, &b, &e),
			 KERR_INVAL);
	assert_non_null(strstr(e.msg, "1 to 604800 seconds"));
	r.path = "k";
	assert_int_equal(sigv4_authorization(&ex_creds, &r, &b, &e), KERR_INVAL);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_amz_date),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_canonical_query),
		cmocka_unit_test(test_get_object_example),
		cmocka_unit_test(test_put_object_example),
		cmocka_unit_test(test_lifecycle_example),
		cmocka_unit_test(test_list_objects_example),
		cmocka_unit_test(test_presign_example),
		cmocka_unit_test(test_presign_path_style),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
