/*
 * directory/routes_call.c: how the directory's write routes answer without
 * a waiting thread (issue 9; docs/internals/directory.md "Commits"). The
 * handler makes a call (directory_call_new: res with a completion), passes
 * &c->res (and c's outputs) to the operation and returns
 * directory_call_end's rc: PV_PENDING when the operation submitted its
 * transaction with a completion, and the answer is built in call_done on
 * the committer (then http_resume); else the answer at once, as before. No
 * store call and no decision here (route_thinness).
 */
#include <stdlib.h>
#include <string.h>

#include "directory/directory_int.h"

/* The answer for rc; c goes. */
static enum pv_rc
answer(struct directory_call *c, enum pv_rc rc)
{
	struct http_request *req = c->req;

	if (rc == PV_OK) {
		rc = c->reply(req, c);
	} else {
		if (c->res.retry_after_s > 0)
			req->retry_after_s = c->res.retry_after_s;
		if (c->res.message[0] != '\0')
			rc = http_fail(req, rc, arena_strdup(req->arena, c->res.message));
	}
	directory_result_wipe(&c->res);
	json_decref(c->res.object);
	directory_app_secret_wipe(&c->secret);
	directory_app_cert_free(&c->cert);
	free(c);
	return rc;
}

/* On the committer, after the fsync (the handler returned long ago). */
static void
call_done(enum pv_rc rc, struct directory_result *res, void *arg)
{
	struct directory_call *c = arg;
	struct http_request *req = c->req;

	(void)res;
	http_resume(req, answer(c, rc));
}

struct directory_call *
directory_call_new(struct http_request *req, directory_reply_fn reply)
{
	struct directory_call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->req = req;
	c->reply = reply;
	c->res.done = call_done;
	c->res.done_arg = c;
	return c;
}

enum pv_rc
directory_call_end(struct directory_call *c, enum pv_rc rc)
{
	if (rc == PV_PENDING)
		return PV_PENDING;
	return answer(c, rc);
}
