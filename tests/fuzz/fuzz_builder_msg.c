/*
 * Fuzz the backend's reading of builder messages (backend/builder_msg.c): parse,
 * then the per-type checks a hostile builder meets. Every accepted message must
 * keep the limits the rest of the backend relies on.
 */
#include "tests/fuzz/fuzz.h"

#include "backend/builder_msg.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct builder_msg m;
	struct kerr e;

	if (builder_msg_parse(&m, (const char *)data, size, &e) == 0 &&
	    builder_msg_check(&m, &e) == 0) {
		switch (m.type) {
		case BUILDER_MSG_HELLO:
			if (m.slots < 1 || m.slots > BUILDER_MSG_MAX_SLOTS || !m.token || !m.name ||
			    strlen(m.name) >= 64 || m.nrunning > BUILDER_MSG_MAX_SLOTS ||
			    m.targets_sql[0] != '{' || strlen(m.targets_sql) >= sizeof(m.targets_sql))
				abort();
			break;
		case BUILDER_MSG_LOG:
			if (m.job < 1 || m.seq < 0 || strlen(m.data) > BUILDER_MSG_MAX_LOG_CHUNK)
				abort();
			break;
		case BUILDER_MSG_FINISH:
			if (m.job < 1 || strlen(m.reason) > BUILDER_MSG_MAX_REASON)
				abort();
			break;
		case BUILDER_MSG_PROGRESS:
			if (m.job < 1 || !m.phase)
				abort();
			break;
		case BUILDER_MSG_DRAIN:
			break;
		case BUILDER_MSG_UNKNOWN:
			abort(); /* check must refuse an unknown type */
		}
	} else {
		(void)builder_msg_error_code(e.code);
	}
	builder_msg_release(&m);
	return 0;
}
