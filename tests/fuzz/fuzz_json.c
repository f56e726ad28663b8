/* Fuzz the JSON layer a builder's messages go through: parse, then every typed getter. */
#include "tests/fuzz/fuzz.h"

#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "type", "job", "seq", "data", "status", "targets",
					    "running", "slots", "token", "limits" };
	cJSON *m = NULL;
	struct buf out = BUF_INIT(1 << 20);

	if (json_parse_object((const char *)data, size, &m, NULL) == 0) {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const char *s = NULL;
			int64_t n = 0;
			int b = 0;
			const cJSON *a = NULL;
			(void)json_get_str(m, keys[i], &s, NULL);
			(void)json_get_int(m, keys[i], -1000, 1000000, &n, NULL);
			(void)json_get_bool(m, keys[i], &b, NULL);
			(void)json_get_array(m, keys[i], &a, NULL);
			(void)json_get_object(m, keys[i], &a, NULL);
			if (s)
				(void)json_append_str(&out, s);
		}
		(void)json_print(m, &out);
		cJSON_Delete(m);
	}
	buf_release(&out);
	return 0;
}
