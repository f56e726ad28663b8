/* provenance_key: the farm's provenance signing key (contract in provenance_key.h). */
#include "kilnctl/provenance_key.h"

#include "common/dsse.h"

#include <string.h>

int provenance_key_run(const struct config *cfg, int argc, char **argv, struct buf *out,
		       struct kerr *e)
{
	const char *path = config_get(cfg, CONFIG_PROVENANCE_KEY);
	struct dsse_key *k = NULL;
	char id[SHA256_HEX_LEN + 1];
	int init, rc = 0;

	if (argc < 2 || strcmp(argv[0], "key") || (strcmp(argv[1], "init") && strcmp(argv[1], "show")))
		return kerr_set(e, PROVENANCE_KEY_USAGE, "provenance takes: key init [--out FILE] | key show");
	init = !strcmp(argv[1], "init");
	if (argc == 4 && !strcmp(argv[2], "--out"))
		path = argv[3];
	else if (argc != 2)
		return kerr_set(e, PROVENANCE_KEY_USAGE, "provenance takes: key init [--out FILE] | key show");
	if (!*path)
		return kerr_set(e, KERR_INVAL, "KILN_PROVENANCE_KEY is unset: set it to the key file's "
				"path (e.g. /etc/kiln/provenance.pem)%s", init ? " or pass --out FILE" : "");
	if (init) {
		rc = dsse_key_generate(path, e);
		if (rc)
			goto fail;
		buf_printf(out, "provenance key written to %s (mode 0600); the backend reads it from "
				"KILN_PROVENANCE_KEY\n", path);
	}
	rc = dsse_key_load(path, &k, e);
	if (rc)
		goto fail;
	if (dsse_key_id(k, id) || dsse_key_public_pem(k, out)) {
		rc = kerr_set(e, KERR_INTERNAL, "could not read the public half of '%s'", path);
		goto fail;
	}
	buf_printf(out, "key id: %s\n", id);
fail:
	dsse_key_free(k);
	return rc;
}
