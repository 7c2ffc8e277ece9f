#!/usr/bin/env python3
"""Self-test of scripts/check-layers.py on small fake trees in a temp dir:
a clean tree passes; an include of an undeclared module, of a higher module,
of a non-module, an upward PV_DEPS entry and an undeclared folder each fail
with exit 1 and a line naming file:line (or the setting) and both modules."""
import os
import subprocess
import sys
import tempfile

SCRIPT = sys.argv[1]

CMAKE = """# a comment: set(PV_MODULES not this one)
set(PV_MODULES util crypto store keys cli)
set(PV_DEPS_util)
set(PV_DEPS_crypto util)
set(PV_DEPS_store util)
set(PV_DEPS_keys crypto store util)
set(PV_DEPS_cli keys store crypto util)
"""

CLEAN = {
    "util/util.h": "#include <stdint.h>\n",
    "crypto/crypto.h": '#include "util/util.h"\n',
    "store/store.h": '#include "util/util.h"\n',
    "keys/keys.h": '#include "crypto/crypto.h"\n#include "store/store.h"\n',
    "keys/keys.c": '#include "keys/keys.h"\n#include "keys/keys_int.h"\n',
    "cli/main.c": '#include <stdio.h>\n#include "keys/keys.h"\n',
}

failures = 0


def run(name, files, cmake=CMAKE, want_rc=0, want=()):
    global failures
    base = os.environ.get("PV_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layers-", dir=base) as root:
        with open(os.path.join(root, "CMakeLists.txt"), "w") as f:
            f.write(cmake)
        for path, text in files.items():
            full = os.path.join(root, "src", path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        p = subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True)
    ok = p.returncode == want_rc and all(w in p.stdout for w in want)
    print("%s %s (exit %d)" % ("ok  " if ok else "FAIL", name, p.returncode))
    if not ok:
        failures += 1
        print(p.stdout + p.stderr)


def with_file(path, text):
    files = dict(CLEAN)
    files[path] = text
    return files


run("clean tree", CLEAN, want=("includes follow the declared deps",))
run("undeclared lower module", with_file("store/sqlite.c", '#include "util/util.h"\n\n#include "crypto/crypto.h"\n'),
    want_rc=1, want=("src/store/sqlite.c:3: store -> crypto: crypto is not in PV_DEPS_store",))
run("upward include", with_file("store/sqlite.c", '#include "keys/keys.h"\n'),
    want_rc=1, want=("src/store/sqlite.c:1: store -> keys: keys is above store in the layer order",))
run("header counts too", with_file("util/util.h", '#  include "cli/cli.h"\n'),
    want_rc=1, want=("src/util/util.h:1: util -> cli: cli is above util",))
run("not a module", with_file("keys/keys.c", '#include "vault/vault.h"\n'),
    want_rc=1, want=("src/keys/keys.c:1: keys -> vault: vault is not a module",))
run("upward declared dep", CLEAN, cmake=CMAKE.replace("set(PV_DEPS_store util)",
                                                      "set(PV_DEPS_store keys util)"),
    want_rc=1, want=("PV_DEPS_store names keys, which is not below store",))
run("undeclared folder", with_file("daemon/lock.c", '#include "util/util.h"\n'),
    want_rc=1, want=("src/daemon/: a folder that is not a module",))
run("no PV_MODULES", CLEAN, cmake="set(PV_DEPS_util)\n", want_rc=2)
print("%s: %d failed" % (os.path.basename(__file__), failures))
sys.exit(1 if failures else 0)
