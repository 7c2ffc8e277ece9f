/*
 * routes: the backup routes (API.md "Backups"). Thin adapters over
 * backup.h: parse, call one operation, reply.
 *
 *   POST   /v1/sys/backups               sys.backup  202 {"job","backup"}
 *   GET    /v1/sys/backups               sys.backup  [backup...] newest first
 *   GET    /v1/sys/backups/{id}/file     sys.backup  {"offset","size","data","eof"}
 *                                                    (?offset=N; base64 pages)
 *   DELETE /v1/sys/backups/{id}          sys.backup  204; 409 conflict while immutable
 *   POST   /v1/sys/backups/{id}/drill    sys.backup  202 {"job"} (a backup.drill job)
 *   GET    /v1/sys/drills                sys.backup  [evidence...] newest first
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup_int.h"
#include "http/http.h"

#define PERM "sys.backup"

static enum pv_rc
h_create(struct http_request *req)
{
	struct backup *b = req->route->arg;
	char job[UTIL_ID_MAX], id[UTIL_ID_MAX], why[256] = "";
	struct pv_actor a;
	enum pv_rc rc;

	static const char *const none[] = { NULL };

	if (req->body != NULL && (rc = http_body_only(req, none)) != PV_OK)
		return rc;
	backup_actor_of(b, req, &a);
	rc = backup_request(b, &a, job, id, why, sizeof(why));
	if (rc == PV_E_REGION)
		return http_fail(req, PV_E_REGION, why);
	if (rc != PV_OK)
		return rc;
	return http_reply(req, 202, json_pack("{s:s,s:s}", "job", job, "backup", id));
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct backup *b = req->route->arg;
	struct pv_actor a;
	json_t *arr = NULL;
	enum pv_rc rc;

	backup_actor_of(b, req, &a);
	if ((rc = backup_list(b, &a, &arr)) != PV_OK)
		return rc;
	return http_reply(req, 200, arr);
}

static enum pv_rc
h_file(struct http_request *req)
{
	struct backup *b = req->route->arg;
	const char *q = http_query(req, "offset");
	struct pv_actor a;
	json_t *o = NULL;
	long long off = 0;
	char *end = NULL;
	enum pv_rc rc;

	if (q != NULL) {
		off = strtoll(q, &end, 10);
		if (*q == '\0' || *end != '\0' || off < 0)
			return http_fail(req, PV_E_INVALID, "offset must be a byte offset (>= 0)");
	}
	backup_actor_of(b, req, &a);
	rc = backup_file_page(b, &a, req->params[0], off, &o);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such backup");
	if (rc == PV_E_INVALID)
		return http_fail(req, PV_E_INVALID, "offset is beyond the end of the file");
	if (rc != PV_OK)
		return rc;
	return http_reply(req, 200, o);
}

static enum pv_rc
h_delete(struct http_request *req)
{
	struct backup *b = req->route->arg;
	struct pv_actor a;
	enum pv_rc rc;

	backup_actor_of(b, req, &a);
	rc = backup_delete(b, &a, req->params[0]);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such backup");
	if (rc == PV_E_CONFLICT)
		return http_fail(req, PV_E_CONFLICT,
		    "The backup is inside its immutability window ([backup] immutable_days)");
	if (rc != PV_OK)
		return rc;
	return http_reply(req, 204, NULL);
}

static enum pv_rc
h_drill(struct http_request *req)
{
	struct backup *b = req->route->arg;
	static const char *const none[] = { NULL };
	char job[UTIL_ID_MAX];
	struct pv_actor a;
	enum pv_rc rc;

	if (req->body != NULL && (rc = http_body_only(req, none)) != PV_OK)
		return rc;
	backup_actor_of(b, req, &a);
	rc = backup_drill_request(b, &a, req->params[0], job);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such backup");
	if (rc != PV_OK)
		return rc;
	return http_reply(req, 202, json_pack("{s:s}", "job", job));
}

static enum pv_rc
h_drills(struct http_request *req)
{
	struct backup *b = req->route->arg;
	struct pv_actor a;
	json_t *arr = NULL;
	enum pv_rc rc;

	backup_actor_of(b, req, &a);
	if ((rc = backup_drills_list(b, &a, &arr)) != PV_OK)
		return rc;
	return http_reply(req, 200, arr);
}

enum pv_rc
backup_routes(struct backup *b, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/sys/backups", h_create, PERM, "backup.create", 0, 0, b },
		{ "GET", "/v1/sys/backups", h_list, PERM, "backup.list", 0, 0, b },
		{ "GET", "/v1/sys/backups/{id}/file", h_file, PERM, "backup.download", 0, 0, b },
		{ "DELETE", "/v1/sys/backups/{id}", h_delete, PERM, "backup.delete", 0, 0, b },
		{ "POST", "/v1/sys/backups/{id}/drill", h_drill, PERM, "drill.run", 0, 0, b },
		{ "GET", "/v1/sys/drills", h_drills, PERM, "drill.read", 0, 0, b },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
