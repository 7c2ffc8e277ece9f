#!/usr/bin/env python3
"""Check docs/openapi.yaml (run by integ_test_openapi; exit 0 = valid).

1. It parses as YAML with unique keys and validates against the OpenAPI 3.0
   JSON Schema that Debian's openapi-specification package ships.
2. Every local $ref resolves.
3. Its operations (METHOD path) are exactly the routes the server registers,
   found as `{ "METHOD", "/v1/..."` (or "/scim/v2/...", "/metrics", "/console...") in src/**/*.c: a route added without its
   documentation, or documentation of a route that does not exist, fails.

usage: openapi_check.py SOURCE_DIR [SCHEMA_JSON]
"""
import json
import os
import re
import sys

import jsonschema
import yaml

SCHEMA = "/usr/share/openapi-specification/schemas/v3.0/schema.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a mapping with the same key twice."""


def _unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append(v)
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return False
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def server_routes(src):
    pat = re.compile(r'\{\s*"(GET|PUT|POST|DELETE|PATCH)",\s*"(/v1/[^"]*|/scim/v2/[^"]*|/metrics|/console[^"]*)"')
    found = set()
    for root, _, files in os.walk(src):
        for name in files:
            if name.endswith(".c"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    for m in pat.finditer(f.read()):
                        # /v1/test/*: test hooks compiled only into phivault-test
                        # (cli/server.c, PV_TEST_HOOKS); not part of the API
                        if not m.group(2).startswith("/v1/test/"):
                            found.add((m.group(1), m.group(2)))
    return found


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    srcdir = sys.argv[1]
    schema_path = sys.argv[2] if len(sys.argv) > 2 else SCHEMA
    spec_path = os.path.join(srcdir, "docs", "openapi.yaml")
    errors = []
    try:
        with open(spec_path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=UniqueKeyLoader)
    except yaml.YAMLError as e:
        print("openapi_check: %s: not valid YAML: %s" % (spec_path, e))
        return 1
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft4Validator(schema)
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
        errors.append("schema: at %s: %s" % (
            "/".join(str(p) for p in e.path) or "(root)", e.message[:300]))
    found = []
    refs(doc, found)
    for r in sorted(set(found)):
        if not resolve(doc, r):
            errors.append("unresolved $ref %s" % r)
    documented = set()
    for path, item in (doc.get("paths") or {}).items():
        for m in METHODS:
            if isinstance(item, dict) and m in item:
                documented.add((m.upper(), path))
    served = server_routes(os.path.join(srcdir, "src"))
    for m, p in sorted(served - documented):
        errors.append("route %s %s is served but not in openapi.yaml" % (m, p))
    for m, p in sorted(documented - served):
        errors.append("openapi.yaml documents %s %s, which no server route has" % (m, p))
    for e in errors:
        print("openapi_check: %s" % e)
    if errors:
        return 1
    print("openapi_check: %s: valid OpenAPI 3.0, %d operations, all served"
          % (spec_path, len(documented)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
