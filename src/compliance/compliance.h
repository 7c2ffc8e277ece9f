/*
 * compliance: the HIPAA Security Rule control catalog (catalog.json, data
 * embedded at build time), the evaluators that read live state, and the
 * signed, reproducible compliance report (JSON, Markdown, HTML).
 *
 * The top layer below cli: it reads the store, the configuration, the data
 * directory and what the composition root tells it about the process, and
 * writes nothing but the report (and, online, the report's own audit entry
 * `compliance.report`).
 *
 * Report lifecycle: gather (one read of the state, bound to the audit head
 * seq N and its entry's time: the report's clock) -> evaluate (each
 * catalog control's evaluators, pure functions of the state) -> sign
 * (Ed25519 with the audit key over the canonical JSON) -> render. The same
 * state gives byte-identical output. docs/internals/compliance.md.
 */
#ifndef PV_COMPLIANCE_H
#define PV_COMPLIANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "keys/keys.h"
#include "store/store.h"
#include "util/util.h"

enum compliance_format { COMPLIANCE_JSON = 0, COMPLIANCE_MD = 1, COMPLIANCE_HTML = 2 };
/* "json" | "md" | "html" */
bool compliance_format_parse(const char *s, enum compliance_format *out);

/* What the composition root knows about the running process (online);
 * observed = false offline: the evaluator then reports the configuration. */
struct compliance_process {
	bool observed;
	bool seccomp;        /* the allowlist is installed */
	bool core_dumps_off; /* RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 */
	bool no_new_privs;
	bool dev;            /* serving with --dev */
};

struct compliance_inputs {
	struct store *st;
	const struct pv_config *cfg;
	const char *datadir;
	struct keys *keys;                   /* unsealed: signs the report */
	const struct compliance_process *proc;
	const char *mode;                    /* "online" | "offline" */
};

/*
 * Build the signed report of the state now; *out is malloc'd (NUL-terminated,
 * *len bytes without the NUL), the rendering in fmt. *seq gets the audit seq
 * it is bound to. PV_E_SEALED if the keyring is sealed (nothing to sign
 * with), PV_E_INTERNAL if the embedded catalog does not parse.
 */
enum pv_rc compliance_report(const struct compliance_inputs *in, enum compliance_format fmt,
    char **out, size_t *len, int64_t *seq, int64_t *failed);

/* The result of compliance_verify. */
struct compliance_verify_result {
	bool ok;
	char format[8];            /* the rendering found: json | md | html */
	int64_t audit_seq;
	char reason[512];          /* what was tampered with, when !ok */
};
/* Check a report file's bytes against the audit public key: PV_OK with
 * ok = false for a tampered report (reason names what), PV_E_INVALID if
 * the bytes are not a phivault compliance report at all. */
enum pv_rc compliance_verify(const char *buf, size_t len, const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    struct compliance_verify_result *out);

/* ---- online: GET /v1/compliance/report?format=json|md|html ---- */
struct compliance_service;
struct compliance_deps {
	struct store *st;
	struct audit *audit;
	struct keys *keys;
	const struct pv_config *cfg;
	const char *datadir;
	const char *node;           /* this node's name (tracking, GET /v1/sys/config) */
};
enum pv_rc compliance_service_new(const struct compliance_deps *d,
    struct compliance_service **out);
void compliance_service_free(struct compliance_service *s);
/* The process facts, set by the composition root before it serves. */
void compliance_service_process(struct compliance_service *s,
    const struct compliance_process *p);
/* The operation behind the route: the report, recorded as
 * compliance.report (resource compliance/report, detail {"audit_seq",
 * "format","failed"}) before it is answered; PV_E_AUDIT if it cannot be. */
enum pv_rc compliance_report_online(struct compliance_service *s, const struct pv_actor *actor,
    enum compliance_format fmt, char **out, size_t *len);
enum pv_rc compliance_routes(struct compliance_service *s, struct http_server *srv);

/*
 * ---- configuration change tracking, baseline, exceptions (tracking.c;
 * docs/governance.md "Configuration change tracking and exceptions") ----
 *
 * Meta values (small JSON documents, one read-modify-write each inside the
 * commit of the entry that records it, so the committer serialises them):
 *   config.effective/<node>  {"config":{...},"hash"}: the last effective
 *                            configuration recorded for that node (redacted)
 *   compliance.baseline      {"config","hash","node","approved_by","approved_at"}
 *   compliance.exceptions    {"items":[{"id","control","reason","owner",
 *                            "expires_at","created_by","created_at"}]}
 */

/* Record cfg as this node's effective configuration: config.loaded
 * (resource config, detail {"hash","node","reason":why}); when the hash
 * differs from the last one recorded for node, config.changed (detail
 * {"hash","previous_hash","node","changed":[...config_effective_diff]},
 * its entry and the new stored copy in one commit). *changed (may be NULL)
 * tells which. PV_E_AUDIT if an entry cannot be made durable. */
enum pv_rc compliance_config_track(struct audit *a, struct store *st,
    const struct pv_config *cfg, const char *node, const char *why, bool *changed);

/* The operations behind the routes. Each *out is a new JSON reference;
 * msg (may be NULL) gets a static message for PV_E_INVALID / NOTFOUND. */
/* GET /v1/sys/config: {"node","hash","config","baseline":{...}|null,"drift":[...]} */
enum pv_rc compliance_sys_config(struct compliance_service *s, json_t **out);
/* POST /v1/compliance/baseline: the running effective configuration becomes
 * the baseline (config.baseline, detail {"hash","previous_hash"}). */
enum pv_rc compliance_baseline_approve(struct compliance_service *s,
    const struct pv_actor *actor, json_t **out);
/* GET /v1/compliance/baseline: PV_E_NOTFOUND if none approved yet. */
enum pv_rc compliance_baseline_get(struct compliance_service *s, json_t **out);
/* POST /v1/compliance/exceptions {"control","reason","owner","expires_at"}
 * (exception.create); GET (list, each with its "state" now); DELETE by id
 * (exception.delete). */
enum pv_rc compliance_exception_add(struct compliance_service *s, const struct pv_actor *actor,
    const json_t *body, json_t **out, const char **msg);
enum pv_rc compliance_exception_list(struct compliance_service *s, json_t **out);
enum pv_rc compliance_exception_remove(struct compliance_service *s,
    const struct pv_actor *actor, const char *id, const char **msg);

#endif /* PV_COMPLIANCE_H */
