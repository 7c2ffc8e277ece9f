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
is clean (or gone) is itself an error, so the list only shrinks. Every
route file is thin today (the list is empty); the mechanism stays for a route file that lands
before its operation (and is exercised by the self-test through --pending).

Usage: check-routes.py [ROOT] [--pending src/<mod>/routes<x>.c ...]
  ROOT defaults to the repository root; each --pending adds an entry to
  PENDING for this run.
Exit 0: clean; 1: violations, one line each (file:line: what).
"""
import os
import re
import sys

# file -> why it still holds a check or a store call (remove when converted)
PENDING = {
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


def check(root, pending=None):
    listed = dict(PENDING)
    listed.update(pending or {})
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
            if rel in listed:
                if not found:
                    errors.append("%s: clean now: remove it from PENDING in check-routes.py"
                                  % rel)
                continue
            for lineno, what in found:
                errors.append("%s:%d: %s" % (rel, lineno, what))
    for rel in sorted(set(listed) - files):
        errors.append("%s: listed in PENDING but not a route file" % rel)
    for e in errors:
        print(e)
    if errors:
        print("check-routes: %d violation(s): a route handler parses, calls an operation "
              "and replies" % len(errors))
        return 1
    print("check-routes: %d route files, %d thin, %d pending" %
          (len(files), len(files) - len(listed), len(listed)))
    return 0


def main(argv):
    root, pending, i = None, {}, 0
    while i < len(argv):
        if argv[i] == "--pending" and i + 1 < len(argv):
            pending[argv[i + 1]] = "given with --pending"
            i += 2
        elif argv[i].startswith("-") or root is not None:
            print("usage: check-routes.py [ROOT] [--pending FILE ...]")
            return 2
        else:
            root = argv[i]
            i += 1
    if root is None:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    return check(root, pending)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
