/*
 * Fuzz the builder's side of the channel: the backend's messages as kiln-builder
 * reads them (builder/daemon.c): the type, job offers through job_parse, and the
 * cancel / finished / error fields.
 */
#include "tests/fuzz/fuzz.h"

#include "builder/derived.h"
#include "builder/job.h"
#include "common/json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *m = NULL;
	const char *type = NULL, *s = NULL;
	struct bjob *j = NULL;
	struct kerr e;
	int64_t job = 0;

	if (json_parse_object((const char *)data, size, &m, &e) ||
	    json_get_str_req(m, "type", &type, &e))
		goto done;
	if (job_parse(m, &j, &e) == 0) {
		if (!j || j->id < 1 || j->attempt < 1 || j->attempt > 1000)
			abort();
		/* native_packages reach apt: only valid, sorted, distinct names, or none */
		if (j->nnative > JOB_NATIVE_MAX || (j->nnative && j->bad_native[0]))
			abort();
		for (size_t i = 0; i < j->nnative; i++)
			if (!derived_package_valid(j->native[i]) ||
			    (i && strcmp(j->native[i - 1], j->native[i]) >= 0))
				abort();
		job_free(j);
	} else if (j) {
		abort(); /* a refused job must not be handed out */
	}
	(void)json_get_int_req(m, "job", 1, INT64_MAX, &job, &e);
	(void)json_get_str(m, "reason", &s, &e);
	(void)json_get_str(m, "state", &s, &e);
	(void)json_get_str(m, "code", &s, &e);
	(void)json_get_str(m, "message", &s, &e);
done:
	cJSON_Delete(m);
	return 0;
}
