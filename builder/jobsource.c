/* jobsource: source and build requirements of a job (contract in jobsource.h). */
#include "builder/jobsource.h"

#include "builder/crates.h"
#include "builder/daemon.h"
#include "builder/job.h"
#include "builder/prefetch.h"
#include "builder/source.h"
#include "common/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void jobsource_init(struct jobsource *s)
{
	memset(s, 0, sizeof(*s));
}

void jobsource_release(struct jobsource *s)
{
	/* The files live in the job's work directory, which the job removes. */
	jobsource_init(s);
}

int jobsource_farm_index_check(const char *v, struct kerr *e)
{
	if (!strcmp(v, "auto") || !strcmp(v, "off") || !strncmp(v, "http://", 7) ||
	    !strncmp(v, "https://", 8))
		return 0;
	return kerr_set(e, KERR_INVAL, "KILN_BUILD_FARM_INDEX must be auto, off or an http(s) "
			"index URL, got '%.200s'", v);
}

void jobsource_farm_index(struct bjob *j, char *out, size_t n)
{
	const char *v = config_get(j->cfg, CONFIG_BUILD_FARM_INDEX);
	char base[512];

	if (!strcmp(v, "off")) {
		snprintf(out, n, "%s", "");
	} else if (!strcmp(v, "auto")) {
		daemon_upload_base(j->daemon, base, sizeof(base));
		snprintf(out, n, "%s/simple/", base);
	} else {
		snprintf(out, n, "%s", v);
	}
}

int jobsource_prepare(struct bjob *j, struct jobsource *s, jobsource_log_fn on_log, void *ctx,
		      struct kerr *e)
{
	struct source_opts so;
	struct prefetch_opts po;
	struct crates_opts co;
	char src_dir[1100], abi[sizeof(j->python_tag)], cargo_home[1100], cargo_dir[1100];
	char farm_index[600];
	int found = 0;
	char *path = NULL;
	int rc;

	memset(&so, 0, sizeof(so));
	so.cancel = &j->cancel;
	if (*config_get(j->cfg, CONFIG_CA_FILE))
		so.ca_file = config_get(j->cfg, CONFIG_CA_FILE);
	snprintf(s->wheels_dir, sizeof(s->wheels_dir), "%s/build-wheels", j->work_dir);
	mkdir(s->wheels_dir, 0755);

	if (!strcmp(j->source_kind, "git")) {
		snprintf(src_dir, sizeof(src_dir), "%s/src", j->work_dir);
		rc = source_checkout_git(j->source_url, j->commit, src_dir, &so,
					 &s->source_date_epoch, e);
		if (rc)
			return rc == KERR_INVAL ? rc : KERR_AGAIN;
		snprintf(s->source_dir, sizeof(s->source_dir), "%s", src_dir);
	} else if (!strcmp(j->source_kind, "sdist")) {
		if (!*j->sha256)
			return kerr_set(e, KERR_INVAL, "the job's sdist has no sha256 to check");
		rc = source_fetch_sdist(j->source_url, j->sha256, j->work_dir, &so, &path, e);
		if (rc)
			return rc;
		snprintf(s->sdist_path, sizeof(s->sdist_path), "%s", path);
		free(path);
	} else {
		return kerr_set(e, KERR_INVAL, "unknown source kind '%s'", j->source_kind);
	}

	memset(&po, 0, sizeof(po));
	snprintf(abi, sizeof(abi), "%s", j->python_tag);
	po.index_url = config_get(j->cfg, CONFIG_BUILD_INDEX_URL);
	jobsource_farm_index(j, farm_index, sizeof(farm_index));
	po.farm_index_url = farm_index;
	po.missing_out = s->requirement;
	po.target.python_version = j->python_version;
	po.target.implementation = "cp";
	po.target.abi = abi;
	po.target.platforms = j->ladder.v;
	po.on_log = on_log;
	po.log_ctx = ctx;
	po.cancel = &j->cancel;
	rc = prefetch_build_requires(&po, s->sdist_path[0] ? s->sdist_path : NULL,
				     s->source_dir[0] ? s->source_dir : NULL, s->wheels_dir, e);
	if (rc)
		return rc == KERR_TIMEOUT ? KERR_AGAIN : rc;

	memset(&co, 0, sizeof(co));
	/* The download cache, shared by this builder's jobs; cargo locks it itself. */
	snprintf(cargo_home, sizeof(cargo_home), "%s/builder/cargo-home",
		 config_get(j->cfg, CONFIG_DATA_DIR));
	snprintf(cargo_dir, sizeof(cargo_dir), "%s/cargo", j->work_dir);
	co.cargo_home = cargo_home;
	if (*config_get(j->cfg, CONFIG_CA_FILE))
		co.ca_file = config_get(j->cfg, CONFIG_CA_FILE);
	co.on_log = on_log;
	co.log_ctx = ctx;
	co.cancel = &j->cancel;
	rc = crates_vendor(&co, s->sdist_path[0] ? s->sdist_path : NULL,
			   s->source_dir[0] ? s->source_dir : NULL, j->work_dir, cargo_dir, &found, e);
	if (rc)
		return rc == KERR_TIMEOUT ? KERR_AGAIN : rc;
	if (found)
		snprintf(s->cargo_dir, sizeof(s->cargo_dir), "%s", cargo_dir);
	return 0;
}
