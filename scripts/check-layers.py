#!/usr/bin/env python3
"""check-layers: the includes in src/ follow the layer order CMake declares.

Reads CMakeLists.txt's `set(PV_MODULES ...)` (the layer order, lowest first)
and every `set(PV_DEPS_<mod> ...)`, then scans each src/<mod>/*.c and *.h for
`#include "<other>/..."`. Rule: a module may include its own headers and those
of the modules named in its own PV_DEPS_<mod> list, nothing else: only direct
declared deps count (a module that needs a module its deps use must declare it,
as cli does). Also refused: a declared dep that is not lower in PV_MODULES
(an upward or circular link), a dep or a folder src/<x>/ that is not a module.

Usage: check-layers.py [ROOT]   (ROOT defaults to the repository root)
Exit 0: clean; 1: violations, one line each (file:line: mod -> other: why);
2: CMakeLists.txt could not be read.
"""
import os
import re
import sys

SET_RE = re.compile(r'^\s*set\(\s*(PV_MODULES|PV_DEPS_([A-Za-z0-9_]+))\b([^)]*)\)', re.M)
INC_RE = re.compile(r'^\s*#\s*include\s*"([A-Za-z0-9_]+)/[^"]*"')


def read_layers(cmake_path):
    with open(cmake_path, encoding="utf-8") as f:
        text = re.sub(r'#[^\n]*', '', f.read())
    modules, deps = None, {}
    for m in SET_RE.finditer(text):
        words = m.group(3).split()
        if m.group(1) == "PV_MODULES":
            modules = words
        else:
            deps[m.group(2)] = words
    return modules, deps


def check(root):
    cmake = os.path.join(root, "CMakeLists.txt")
    try:
        modules, deps = read_layers(cmake)
    except OSError as e:
        print("check-layers: %s: %s" % (cmake, e.strerror), file=sys.stderr)
        return 2
    if not modules:
        print("check-layers: %s: no set(PV_MODULES ...)" % cmake, file=sys.stderr)
        return 2
    rank = {m: i for i, m in enumerate(modules)}
    errors = []
    for mod in modules:
        for dep in deps.get(mod, []):
            if dep not in rank:
                errors.append("CMakeLists.txt: PV_DEPS_%s names %s, which is not in PV_MODULES"
                              % (mod, dep))
            elif rank[dep] >= rank[mod]:
                errors.append("CMakeLists.txt: PV_DEPS_%s names %s, which is not below %s "
                              "in PV_MODULES" % (mod, dep, mod))
    src = os.path.join(root, "src")
    for mod in sorted(os.listdir(src)):
        mdir = os.path.join(src, mod)
        if not os.path.isdir(mdir):
            continue
        if mod not in rank:
            errors.append("src/%s/: a folder that is not a module in PV_MODULES" % mod)
            continue
        allowed = set(deps.get(mod, [])) | {mod}
        for name in sorted(os.listdir(mdir)):
            if not name.endswith((".c", ".h")):
                continue
            rel = "src/%s/%s" % (mod, name)
            with open(os.path.join(mdir, name), encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INC_RE.match(line)
                    if m is None:
                        continue
                    other = m.group(1)
                    if other in allowed:
                        continue
                    if other not in rank:
                        why = "%s is not a module" % other
                    elif rank[other] > rank[mod]:
                        why = "%s is above %s in the layer order" % (other, mod)
                    else:
                        why = "%s is not in PV_DEPS_%s" % (other, mod)
                    errors.append("%s:%d: %s -> %s: %s" % (rel, lineno, mod, other, why))
    for e in errors:
        print(e)
    if errors:
        print("check-layers: %d violation(s) of the layer order (CMakeLists.txt PV_DEPS_*)"
              % len(errors))
        return 1
    print("check-layers: %d modules, includes follow the declared deps" % len(modules))
    return 0


if __name__ == "__main__":
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1 else
                   os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
