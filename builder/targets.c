/* targets: the targets a builder serves (contract in targets.h). */
#include "builder/targets.h"

#include "builder/docker.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGETS__BODY_MAX (4u << 20)

static int targets__name_ok(const char *s, size_t n)
{
	return n && n < TARGETS_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") >= n;
}

int targets_parse_config(const char *value, struct targets_config *tc, struct kerr *e)
{
	const char *p = value ? value : "";

	memset(tc, 0, sizeof(*tc));
	while (*p) {
		size_t len = strcspn(p, ", ");
		if (len == 4 && !strncmp(p, "auto", 4)) {
			tc->automatic = 1;
		} else if (len) {
			size_t i;

			if (!targets__name_ok(p, len))
				return kerr_set(e, KERR_INVAL,
						"KILN_BUILDER_TARGETS: bad target name '%.*s' "
						"([a-z0-9._-]{1,63}, or `auto`)", (int)(len > 80 ? 80 : len), p);
			for (i = 0; i < tc->n; i++)
				if (strlen(tc->names[i]) == len && !strncmp(tc->names[i], p, len))
					return kerr_set(e, KERR_INVAL,
							"KILN_BUILDER_TARGETS names '%.*s' twice", (int)len, p);
			if (tc->n == TARGETS_MAX)
				return kerr_set(e, KERR_INVAL,
						"KILN_BUILDER_TARGETS names more than %d targets", TARGETS_MAX);
			memcpy(tc->names[tc->n], p, len);
			tc->names[tc->n++][len] = '\0';
		}
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	if (tc->automatic && tc->n)
		return kerr_set(e, KERR_INVAL,
				"KILN_BUILDER_TARGETS is either `auto` or a list of names, not both");
	if (!tc->automatic && !tc->n)
		return kerr_set(e, KERR_INVAL,
				"KILN_BUILDER_TARGETS names no target (give names, or `auto`)");
	return 0;
}

void targets_list_release(struct targets_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int targets_parse_list(const char *body, size_t n, struct targets_list *out, struct kerr *e)
{
	cJSON *j = NULL;
	const cJSON *arr = NULL, *it;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = json_parse_object(body, n, &j, e)) || (rc = json_get_array(j, "targets", &arr, e)))
		goto out;
	if (!arr) {
		rc = kerr_set(e, KERR_INVAL, "the answer has no 'targets' list");
		goto out;
	}
	out->v = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*out->v));
	cJSON_ArrayForEach(it, arr) {
		struct targets_entry *t = &out->v[out->n];
		const char *name = NULL, *image = NULL, *arch = NULL;
		int enabled = 1;
		struct kerr e2;

		kerr_clear(&e2);
		if (!cJSON_IsObject(it) || json_get_str_req(it, "name", &name, &e2) ||
		    json_get_str_req(it, "image", &image, &e2) || json_get_str(it, "arch", &arch, &e2) ||
		    json_get_bool(it, "enabled", &enabled, &e2) ||
		    !targets__name_ok(name, strlen(name)) || strlen(image) >= sizeof(t->image) ||
		    platform_arch_normalize(arch ? arch : "x86_64", t->arch, &e2))
			continue;
		snprintf(t->name, sizeof(t->name), "%s", name);
		snprintf(t->image, sizeof(t->image), "%s", image);
		t->enabled = enabled;
		out->n++;
	}
out:
	cJSON_Delete(j);
	if (rc)
		targets_list_release(out);
	return rc;
}

static size_t targets__write(char *p, size_t size, size_t nmemb, void *arg)
{
	return buf_append(arg, p, size * nmemb) ? 0 : size * nmemb;
}

int targets_fetch(const char *base, const char *ca_file, long timeout_s, struct targets_list *out,
		  struct kerr *e)
{
	struct buf body = BUF_INIT(TARGETS__BODY_MAX);
	char url[600], errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "%s/api/v1/targets", base);
	if (!(h = curl_easy_init())) {
		rc = kerr_set(e, KERR_INTERNAL, "curl_easy_init failed");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file && *ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, targets__write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		rc = kerr_set(e, cc == CURLE_OPERATION_TIMEDOUT ? KERR_TIMEOUT : KERR_IO,
			      "could not read the backend's targets (%s): %s", url,
			      errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (status != 200) {
		rc = kerr_set(e, KERR_PROTO, "could not read the backend's targets (%s): HTTP %ld",
			      url, status);
		goto out;
	}
	if ((rc = targets_parse_list(body.ptr, body.len, out, e))) {
		kerr_wrap(e, "the backend's targets (%s): ", url);
		rc = KERR_PROTO;
	}
out:
	if (h)
		curl_easy_cleanup(h);
	buf_release(&body);
	return rc;
}

int targets_arch_served(const struct targets_arches *a, const char *arch)
{
	if (!strcmp(a->host, arch))
		return 1;
	for (size_t i = 0; i < a->nemulated; i++)
		if (!strcmp(a->emulated[i], arch))
			return 1;
	return 0;
}

int targets_check(const struct docker *d, const struct targets_arches *a,
		  const struct targets_entry *t, struct kerr *e)
{
	struct docker_image img;
	char arch[PLATFORM_ARCH_MAX];
	int rc;

	if (!targets_arch_served(a, t->arch))
		return kerr_set(e, KERR_CONFLICT,
				"target %s is for %s, which this %s builder neither is nor emulates: "
				"run it on an %s machine, or set KILN_BUILDER_EMULATE=%s (after "
				"`scripts/emulation.sh enable`)", t->name, t->arch, a->host, t->arch,
				t->arch);
	rc = docker_image_inspect(d, t->image, TARGETS_ARCH_LABEL, &img, e);
	if (rc == KERR_NOTFOUND || rc == KERR_INVAL)
		return kerr_set(e, KERR_NOTFOUND,
				"image %s for target %s is not on this machine: build it with "
				"`just image %s`", t->image, t->name, t->name);
	if (rc)
		return rc;
	/* Kiln's images say it in a label; any other image has Docker's Architecture. */
	if (platform_arch_normalize(img.label[0] ? img.label : img.architecture, arch, e))
		return kerr_set(e, KERR_CONFLICT, "image %s for target %s says no usable "
				"architecture ('%s'): rebuild it with `just image %s`", t->image,
				t->name, img.label[0] ? img.label : img.architecture, t->name);
	if (strcmp(arch, t->arch))
		return kerr_set(e, KERR_CONFLICT,
				"image %s for target %s is built for %s, the target is %s: rebuild it "
				"with `just image %s`, or correct the target (`kilnctl target add %s "
				"--arch ...`)", t->image, t->name, arch, t->arch, t->name, t->name);
	return 0;
}

static const struct targets_entry *targets__find(const struct targets_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

int targets_select(const struct docker *d, const struct targets_arches *a,
		   const struct targets_config *tc, const struct targets_list *l, struct buf *out,
		   size_t *count, targets_skip_fn on_skip, void *ctx, struct kerr *e)
{
	size_t n = 0;
	int rc = 0;

	buf_reset(out);
	buf_putc(out, '[');
	if (!tc->automatic) {
		for (size_t i = 0; i < tc->n; i++) {
			const struct targets_entry *t = targets__find(l, tc->names[i]);
			if (!t) {
				rc = kerr_set(e, KERR_NOTFOUND,
					      "target %s of KILN_BUILDER_TARGETS is not known to the "
					      "backend: add it with `kilnctl target add %s --image ...` "
					      "(see `kilnctl target list`), or use KILN_BUILDER_TARGETS=auto",
					      tc->names[i], tc->names[i]);
				goto out;
			}
			if ((rc = targets_check(d, a, t, e)))
				goto out;
			buf_puts(out, n++ ? "," : "");
			json_append_str(out, t->name);
		}
	} else {
		for (size_t i = 0; i < l->n; i++) {
			const struct targets_entry *t = &l->v[i];
			struct kerr why;

			kerr_clear(&why);
			if (!t->enabled) {
				if (on_skip)
					on_skip(ctx, t->name, "the target is disabled");
				continue;
			}
			rc = targets_check(d, a, t, &why);
			if (rc == KERR_NOTFOUND || rc == KERR_CONFLICT) {
				if (on_skip)
					on_skip(ctx, t->name, why.msg);
				rc = 0;
				continue;
			}
			if (rc) {
				kerr_set(e, rc, "%s", why.msg);
				goto out;
			}
			if (n == TARGETS_MAX) {
				if (on_skip)
					on_skip(ctx, t->name, "a builder serves at most 32 targets");
				continue;
			}
			buf_puts(out, n++ ? "," : "");
			json_append_str(out, t->name);
		}
	}
	buf_putc(out, ']');
out:
	if (count)
		*count = rc ? 0 : n;
	return rc;
}
