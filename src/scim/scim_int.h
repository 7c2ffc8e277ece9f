/*
 * scim internals shared by src/scim/ and tests/unit/scim/ (and the
 * fuzzer). Not API: other modules include only scim.h.
 */
#ifndef PV_SCIM_INT_H
#define PV_SCIM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "scim/scim.h"

struct pv_actor;

#define SCIM_URN_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_URN_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_URN_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_URN_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_URN_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"

#define SCIM_FILTER_MAX_LEN 4096   /* bytes of a filter or a PATCH path */
#define SCIM_FILTER_MAX_DEPTH 16   /* nesting of parentheses, not and [] */
#define SCIM_FILTER_MAX_NODES 128
#define SCIM_COUNT_DEFAULT 100     /* a page when count is not given */
#define SCIM_COUNT_MAX 200         /* the most resources one page holds */
#define SCIM_PATCH_MAX_OPS 64

/* A failure in RFC 7644 3.12 terms: HTTP status, scimType ("" if none)
 * and a detail that never holds a value from the request. */
struct scim_error {
	int status;
	char scim_type[24];
	char detail[192];
};
/* Fill err and return rc. */
enum pv_rc scim_fail(struct scim_error *err, enum pv_rc rc, int status, const char *type,
    const char *detail);
/* The SCIM error body of err (caller's reference). */
json_t *scim_error_json(const struct scim_error *err);

/* ---- schema: the attributes phivault knows (schema.c) ---- */

enum scim_type { SCIM_T_STRING, SCIM_T_BOOLEAN, SCIM_T_COMPLEX, SCIM_T_DATETIME,
	SCIM_T_REFERENCE };
enum scim_kind { SCIM_USER = 0, SCIM_GROUP = 1 };

struct scim_attr {
	const char *name;
	enum scim_type type;
	bool multi;
	bool case_exact;
	bool read_only;
	const struct scim_attr *sub;   /* NULL-name terminated; complex only */
	const char *description;
};

/* The attribute `name` (case-insensitive) of the resource kind, in the core
 * schema or (enterprise true) the enterprise extension; NULL if unknown. */
const struct scim_attr *scim_attr_find(enum scim_kind kind, bool enterprise, const char *name);
const struct scim_attr *scim_sub_find(const struct scim_attr *a, const char *name);
/* An RFC 7643 attribute phivault accepts in requests and drops. */
bool scim_attr_ignored(enum scim_kind kind, bool enterprise, const char *name);
/* GET /Schemas, /ResourceTypes, /ServiceProviderConfig bodies. */
json_t *scim_schemas_json(const char *base);
json_t *scim_resource_types_json(const char *base);
json_t *scim_service_provider_json(const char *base);

/* ---- filters (filter.c): RFC 7644 3.4.2.2 ---- */

struct scim_filter;
/* Parse text (at most SCIM_FILTER_MAX_LEN bytes) against the attributes of
 * kind. PV_E_INVALID with err (400 invalidFilter) on anything else. */
enum pv_rc scim_filter_parse(const char *text, enum scim_kind kind, struct scim_filter **out,
    struct scim_error *err);
/* Does resource (the SCIM representation) match? */
bool scim_filter_match(const struct scim_filter *f, json_t *resource);
void scim_filter_free(struct scim_filter *f);

/* A PATCH path (RFC 7644 3.5.2): attrPath | valuePath ["." subAttr]. */
struct scim_path {
	bool enterprise;
	bool ignored;                    /* an attribute of scim_attr_ignored: a no-op */
	const struct scim_attr *attr;
	const struct scim_attr *sub;     /* NULL: the whole attribute */
	struct scim_filter *filter;      /* valuePath filter, or NULL */
	/* for a filter of the form `x eq "v"`: x and v, so that an Entra
	 * replace of emails[type eq "work"].value can create the element */
	char eq_attr[64];
	char eq_value[256];
};
enum pv_rc scim_path_parse(const char *text, enum scim_kind kind, struct scim_path *out,
    struct scim_error *err);
void scim_path_clear(struct scim_path *p);

/* ---- PATCH (patch.c): apply a PatchOp body to a representation ---- */

/* Apply body's Operations to res (changed in place). Entra ID's quirks are
 * tolerated: "Add"/"Replace"/"Remove", "True"/"False" for booleans, no
 * path with a value object, emails[type eq "work"].value for an element
 * that does not exist yet. 400 invalidSyntax / invalidPath / noTarget /
 * invalidValue / mutability in err. */
enum pv_rc scim_patch_apply(json_t *res, enum scim_kind kind, json_t *body,
    struct scim_error *err);
/* Case-insensitive key lookup in a JSON object. */
json_t *scim_obj_get(json_t *o, const char *key);
/* A boolean as SCIM clients send it: true/false, or (Entra) "True"/"False". */
bool scim_bool(json_t *v, bool *out);

/* ---- the service (service.c, users.c, groups.c) ---- */

struct scim {
	struct directory *dir;
	const struct pv_config *cfg;
	char base[600];                /* public_url + "/scim/v2" or "/scim/v2" */
};

struct scim_list_query {
	const char *filter;            /* NULL: all */
	long start_index;              /* 1-based */
	long count;
};

/*
 * A write's answer (routes.c). Each write request is one change set of the
 * directory (directory.h "change sets"): one transaction with every entry,
 * all or nothing, answered from its completion (docs/internals/scim.md
 * "One transaction a request"). The operation either fails at once (err
 * filled, its rc returned) or commits the set and returns PV_PENDING (or,
 * off a request thread, the rc after the answer was built): the set's done
 * builds out (the resource as the transaction left it, read back inside
 * it) or err and calls scim_write_done.
 */
struct http_request;
struct scim_write {
	struct http_request *req;      /* NULL: no HTTP answer (unit callers) */
	struct scim *s;
	int status;                    /* the success answer: 200, 201 or 204 */
	bool async;                    /* answered from the completion */
	json_t *out;                   /* the resource (success, not 204) */
	struct scim_error err;         /* the failure */
	char id[64];                   /* a group's name (the answer's resource) */
};
/* From the set's done: an async write is answered now (http_resume) and w
 * freed; else the rc is returned to the operation's caller, who answers. */
enum pv_rc scim_write_done(struct scim_write *w, enum pv_rc rc);

/* Writes take the request's If-Match (NULL: none): unless it is "*" or the
 * resource's current meta.version, 412 and nothing changes (RFC 7644
 * 3.14). Checked when the write starts; the last write still wins between
 * two writers that both pass. Reads fill *out or err. */
enum pv_rc scim_user_get(struct scim *s, const struct pv_actor *actor, const char *id,
    json_t **out, struct scim_error *err);
enum pv_rc scim_user_list(struct scim *s, const struct pv_actor *actor,
    const struct scim_list_query *q, json_t **out, struct scim_error *err);
enum pv_rc scim_user_create(struct scim *s, const struct pv_actor *actor, json_t *body,
    struct scim_write *w);
enum pv_rc scim_user_replace(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w);
enum pv_rc scim_user_patch(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w);
enum pv_rc scim_user_delete(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, struct scim_write *w);

enum pv_rc scim_group_get(struct scim *s, const struct pv_actor *actor, const char *id,
    json_t **out, struct scim_error *err);
enum pv_rc scim_group_list(struct scim *s, const struct pv_actor *actor,
    const struct scim_list_query *q, json_t **out, struct scim_error *err);
enum pv_rc scim_group_create(struct scim *s, const struct pv_actor *actor, json_t *body,
    struct scim_write *w);
enum pv_rc scim_group_replace(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w);
enum pv_rc scim_group_patch(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, json_t *body, struct scim_write *w);
enum pv_rc scim_group_delete(struct scim *s, const struct pv_actor *actor, const char *id,
    const char *if_match, struct scim_write *w);

/* ListResponse of the resources matching q (steals all). */
enum pv_rc scim_list_page(json_t *all, enum scim_kind kind, const struct scim_list_query *q,
    json_t **out, struct scim_error *err);
/* attributes / excludedAttributes (RFC 7644 3.4.2.5) on one resource's
 * top-level attributes; id and schemas always stay. */
void scim_project(json_t *res, const char *attributes, const char *excluded);
/* Build a representation from a POST/PUT body: every attribute checked
 * and normalised like a PATCH value (id, meta and read-only attributes in
 * the body are ignored, as RFC 7644 3.3 and 3.5.1 allow). */
enum pv_rc scim_resource_from_body(json_t *body, enum scim_kind kind, json_t **out,
    struct scim_error *err);
/* PV_OK when if_match is NULL, "*" or res's meta.version; else 412. */
enum pv_rc scim_if_match(json_t *res, const char *if_match, struct scim_error *err);
/* W/"<hash>" of a representation without its meta (meta.version, ETag). */
void scim_version(json_t *res, char out[32]);
/* The directory's rc and message as a SCIM error. */
enum pv_rc scim_from_directory(enum pv_rc rc, const char *message, struct scim_error *err);

#endif /* PV_SCIM_INT_H */
