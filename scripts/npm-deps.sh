#!/bin/sh
# Install the test-only npm packages (tests/oidc: oidc-provider for
# tests/integration/test_oidc.c) from the committed package-lock.json with the
# machine's Node.js and npm, when they are missing or the lock file changed.
# Nothing here is shipped; the server never runs Node.js.
set -eu
dir="$(dirname "$0")/../tests/oidc"
if ! command -v npm >/dev/null 2>&1; then
	echo "phivault: npm is missing (Node.js with npm is needed by the OIDC tests)" >&2
	exit 3
fi
stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
	exit 0
fi
echo "deps: npm ci in tests/oidc"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
