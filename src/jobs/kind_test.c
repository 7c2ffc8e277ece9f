/*
 * kind_test: the synthetic job kind "test.count" and the route that
 * enqueues it, for tests. Linked only into binaries that call
 * jobs_test_install (phivault-test's wiring and the unit tests): the
 * shipped phivault never references this file, so it has neither.
 *
 * test.count, params {"n": N} (1..1000000), cursor = the next item as
 * decimal text ("" = 0). Each step does item i: it appends "i\n" to the
 * meta value "test.count/<job id>" (read, append, write: a step done twice
 * shows as a repeated line, a lost one as a gap) and moves the cursor to
 * i + 1, in the step's transaction. {"skip": K} makes item K record an
 * error (code "test_skip", item "item_K") instead of its line.
 *
 *   POST /v1/test/jobs  sys.backup  {"n":N,"skip":K} -> 202 {"job":"job_..."}
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "jobs/jobs_int.h"

#define TEST_N_MAX 1000000

static enum pv_rc
count_step(const struct jobs_step_ctx *ctx, const char *cursor, struct jobs_step_out *out)
{
	json_t *p = json_loads(ctx->params, 0, NULL);
	json_int_t n = json_integer_value(json_object_get(p, "n"));
	json_t *skip = json_object_get(p, "skip");
	long long i = cursor[0] != '\0' ? strtoll(cursor, NULL, 10) : 0;
	char key[UTIL_ID_MAX + 16], line[32];
	uint8_t *val = NULL, *nv = NULL;
	size_t len = 0, ll;
	enum pv_rc rc;

	if (p == NULL || n < 1 || i < 0 || i >= n) {
		json_decref(p);
		return PV_E_INVALID;
	}
	snprintf(key, sizeof(key), "test.count/%s", ctx->job_id);
	if (json_is_integer(skip) && json_integer_value(skip) == i) {
		snprintf(out->error_code, sizeof(out->error_code), "test_skip");
		snprintf(out->error_item, sizeof(out->error_item), "item_%lld", i);
		rc = PV_OK;
		goto next;
	}
	rc = store_meta_get(ctx->tx, key, &val, &len);
	if (rc == PV_E_NOTFOUND) {
		len = 0;
		rc = PV_OK;
	}
	if (rc != PV_OK)
		goto out;
	ll = (size_t)snprintf(line, sizeof(line), "%lld\n", i);
	if ((nv = malloc(len + ll)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (len > 0)
		memcpy(nv, val, len);
	memcpy(nv + len, line, ll);
	if ((rc = store_meta_put(ctx->tx, key, nv, len + ll)) != PV_OK)
		goto out;
next:
	snprintf(out->cursor, sizeof(out->cursor), "%lld", i + 1);
	out->done = 1;
	out->total = n;
	out->finished = i + 1 >= n;
out:
	free(val);
	free(nv);
	json_decref(p);
	return rc;
}

static const struct jobs_kind test_count = { "test.count", count_step, NULL };

static enum pv_rc
h_enqueue(struct http_request *req)
{
	struct jobs_runner *r = req->route->arg;
	struct pv_actor a;
	static const char *const allowed[] = { "n", "skip", NULL };
	json_t *n = json_object_get(req->body, "n"), *skip = json_object_get(req->body, "skip");
	char id[UTIL_ID_MAX], params[64];
	enum pv_rc rc;
	json_t *o;

	if ((rc = http_body_only(req, allowed)) != PV_OK)
		return rc;
	if (!json_is_integer(n) || json_integer_value(n) < 1 ||
	    json_integer_value(n) > TEST_N_MAX)
		return http_fail(req, PV_E_INVALID, "n must be an integer from 1 to 1000000");
	if (skip != NULL && !json_is_integer(skip))
		return http_fail(req, PV_E_INVALID, "skip must be an integer");
	snprintf(params, sizeof(params), "{\"n\":%lld,\"skip\":%lld}",
	    (long long)json_integer_value(n), skip ? (long long)json_integer_value(skip) : -1LL);
	jobs_actor_of_request(r, req, &a);
	if ((rc = jobs_enqueue(r, &a, "test.count", params, json_integer_value(n), id)) != PV_OK)
		return rc;
	if ((o = json_pack("{s:s}", "job", id)) == NULL)
		return PV_E_NOMEM;
	return http_reply(req, 202, o);
}

enum pv_rc
jobs_test_install(struct jobs_runner *r, struct http_server *http)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/test/jobs", h_enqueue, "sys.backup", "job.create", HTTP_ROUTE_BODY,
		    4096, r },
	};
	enum pv_rc rc = jobs_kind_register(r, &test_count);

	if (rc == PV_OK && http != NULL)
		rc = http_routes_add(http, routes, 1);
	return rc;
}
