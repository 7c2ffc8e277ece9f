#!/usr/bin/env python3
"""check-routes: route handlers are thin adapters (parse, call, reply).

Scans every src/<mod>/routes*.c, with comments and string literals blanked,
for what belongs in an operation and never in a route handler:
  - an authorization decision: a call of authz_decide, authz_check or any
    other *_decide function (a module's wrapper of the decision point);
  - SQL, i.e. any store call: an identifier store_<x> followed by "(".
A route file reaches the store and the decision point only through its
module's operations (vault_record_read, directory_user_disable, ...); the
route hook's decision is the router's (src/http), not the handler's.

Files not converted yet are listed in PENDING with why; an entry whose file
is clean (or gone) is itself an error, so the list only shrinks.

Usage: check-routes.py [ROOT]   (ROOT defaults to the repository root)
Exit 0: clean; 1: violations, one line each (file:line: what).
"""
import os
import re
import sys

# file -> why it still holds a check or a store call (remove when converted)
PENDING = {
    "src/authn/routes_auth.c": "login, MFA and password flows are not operations yet",
    "src/authz/routes_audit.c": "the audit reading routes scan the store themselves",
    "src/authz/routes_explain.c": "POST /v1/authz/explain answers with the decision itself",
    "src/authz/routes_roles.c": "custom roles are not operations yet",
    "src/jobs/routes.c": "the job routes read the jobs table themselves",
}

CALL_RE = re.compile(r'\b(authz_check|[A-Za-z0-9_]*_decide|store_[A-Za-z0-9_]+)\s*\(')
TOKEN_RE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def blank(text):
    """Comments and literals replaced by spaces, newlines kept (line numbers hold)."""
    return TOKEN_RE.sub(lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text)


def violations(path):
    with open(path, encoding="utf-8") as f:
        code = blank(f.read())
    out = []
    for lineno, line in enumerate(code.split("\n"), 1):
        for m in CALL_RE.finditer(line):
            name = m.group(1)
            what = "SQL (a store call)" if name.startswith("store_") else "an authorization check"
            out.append((lineno, "%s in a route handler: %s()" % (what, name)))
    return out


def check(root):
    src = os.path.join(root, "src")
    errors, files = [], set()
    for mod in sorted(os.listdir(src)):
        mdir = os.path.join(src, mod)
        if not os.path.isdir(mdir):
            continue
        for name in sorted(os.listdir(mdir)):
            if not (name.startswith("routes") and name.endswith(".c")):
                continue
            rel = "src/%s/%s" % (mod, name)
            files.add(rel)
            found = violations(os.path.join(mdir, name))
            if rel in PENDING:
                if not found:
                    errors.append("%s: clean now: remove it from PENDING in check-routes.py"
                                  % rel)
                continue
            for lineno, what in found:
                errors.append("%s:%d: %s" % (rel, lineno, what))
    for rel in sorted(set(PENDING) - files):
        errors.append("%s: listed in PENDING but not a route file" % rel)
    for e in errors:
        print(e)
    if errors:
        print("check-routes: %d violation(s): a route handler parses, calls an operation "
              "and replies" % len(errors))
        return 1
    print("check-routes: %d route files, %d thin, %d pending" %
          (len(files), len(files) - len(PENDING), len(PENDING)))
    return 0


if __name__ == "__main__":
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1 else
                   os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
