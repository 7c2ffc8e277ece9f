#!/usr/bin/env python3
"""Self-test of scripts/check-routes.py on small fake trees in a temp dir:
a thin route file passes (calls in comments and strings do not count); a
route file that calls the decision point, a *_decide wrapper or the store
fails with file:line; a pending file (given with --pending) may still call
the store, but one that is clean, and one that does not exist, fail too
(the list only shrinks). Every fake tree holds an unclean stub for each
entry of the script's real PENDING list (empty today), so the self-test
does not depend on what that list holds."""
import importlib.util
import os
import subprocess
import sys
import tempfile

SCRIPT = sys.argv[1]


def real_pending():
    """The script's own PENDING list (empty today)."""
    spec = importlib.util.spec_from_file_location("check_routes", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return dict(mod.PENDING)

THIN = '''/* routes: store_record_get() is the operation's, not ours */
static enum pv_rc h(struct http_request *req)
{
	http_fail(req, PV_E_INVALID, "authz_decide(x) in a string");
	vault_record_read(req->route->arg, &who, id, done, r);   // store_x() in a comment
	return PV_PENDING;
}
'''

failures = 0


def run(name, files, want_rc, want=(), pending=()):
    global failures
    base = os.environ.get("PV_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="routes-", dir=base) as root:
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        args = [sys.executable, SCRIPT, root]
        for rel in pending:
            args += ["--pending", rel]
        p = subprocess.run(args, capture_output=True, text=True)
    ok = p.returncode == want_rc and all(w in p.stdout for w in want)
    print("%s %s (exit %d)" % ("ok  " if ok else "FAIL", name, p.returncode))
    if not ok:
        failures += 1
        print(p.stdout + p.stderr)


# the mechanism is driven with --pending (the real list is empty today)
PENDING = ["src/jobs/routes.c", "src/authz/routes_audit.c"]


def tree(**extra):
    # whatever the real PENDING list holds must exist, unclean, in a fake tree
    files = {rel: "x = store_pending_get(st);\n" for rel in real_pending()}
    files["src/vault/routes_records.c"] = THIN
    files["src/vault/ops_records.c"] = "x = store_record_get(st); y = authz_decide(&q, &d);\n"
    files.update(extra)
    return {k: v for k, v in files.items() if v is not None}


run("clean tree passes (operations may call the store)", tree(), 0, ["thin"])
run("authz_decide in a route", tree(**{"src/vault/routes_records.c":
    THIN + "static void g(void)\n{\n\t(void)authz_decide(&q, &d);\n}\n"}), 1,
    ["src/vault/routes_records.c:10: an authorization check in a route handler: authz_decide()"])
run("authz_check in a route", tree(**{"src/directory/routes_users.c":
    "rc = authz_check(p, \"users.manage\", false);\n"}), 1,
    ["src/directory/routes_users.c:1: an authorization check in a route handler: authz_check()"])
run("a *_decide wrapper in a route", tree(**{"src/vault/routes_tokens.c":
    "\n\tif (vault_decide (v, req, a) != PV_OK)\n"}), 1,
    ["src/vault/routes_tokens.c:2: an authorization check in a route handler: vault_decide()"])
run("a store call in a route", tree(**{"src/vault/routes_batch.c":
    "int x;\nrc = store_record_scan(v->st, c, a, n, cb, &l);\n"}), 1,
    ["src/vault/routes_batch.c:2: SQL (a store call) in a route handler: store_record_scan()"])
UNCLEAN = {"src/jobs/routes.c": "x = store_job_get(st);\n",
           "src/authz/routes_audit.c": "x = store_audit_scan(st);\n"}
run("pending files that still call the store pass", tree(**UNCLEAN), 0,
    ["%d pending" % len(set(PENDING) | set(real_pending()))], pending=PENDING)
run("an unlisted route file that calls the store fails", tree(**UNCLEAN), 1,
    ["src/jobs/routes.c:1: SQL (a store call) in a route handler: store_job_get()"])
run("a pending file that is clean now", tree(**dict(UNCLEAN, **{"src/jobs/routes.c": THIN})),
    1, ["src/jobs/routes.c: clean now: remove it from PENDING"], pending=PENDING)
run("a pending file that is gone", tree(**{"src/jobs/routes.c": UNCLEAN["src/jobs/routes.c"]}),
    1, ["src/authz/routes_audit.c: listed in PENDING but not a route file"], pending=PENDING)

sys.exit(1 if failures else 0)
