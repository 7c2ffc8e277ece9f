#!/usr/bin/env bash
# tests/fuzz/coverage.sh BUILD_DIR: the body of `make fuzz-coverage`.
#
# BUILD_DIR holds the fuzz_*_replay drivers built with clang source-based
# coverage (-DFUZZ_COVERAGE=ON). Each replays its committed corpus
# (tests/fuzz/corpus/<harness>/ and tests/fuzz/regress/<harness>/); the
# profiles are merged and llvm-cov reports line and branch coverage for each
# parser file (PARSER_FILES below), as a Markdown table on stdout (the one in
# docs/internals/testing.md), plus an HTML report in BUILD_DIR/coverage/.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: coverage.sh BUILD_DIR}
profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
cov=$(command -v llvm-cov || command -v llvm-cov-14)

# The files whose parsers the harnesses exist for (untrusted input).
PARSER_FILES=(
	src/http/body.c src/http/route.c src/http/request.c src/http/resource.c
	src/config/config.c
	src/authn/password.c src/authn/token.c src/authn/recovery.c src/authn/totp.c
	src/authz/perm.c
	src/keys/shamir.c src/keys/keys.c
	src/vault/schema.c src/vault/types.c src/vault/record_io.c
	src/audit/chain.c src/audit/verify.c
)

prof=$build/profiles
rm -rf "$prof"
mkdir -p "$prof"
objs=()
for f in "$build"/fuzz_*_replay; do
	[ -x "$f" ] || continue
	h=$(basename "$f" _replay)
	LLVM_PROFILE_FILE="$prof/$h.profraw" "$f" "tests/fuzz/corpus/$h" "tests/fuzz/regress/$h" \
		>/dev/null 2>&1 || { echo "coverage.sh: $h failed its replay" >&2; exit 1; }
	objs+=("$f")
done
if [ ${#objs[@]} -eq 0 ]; then
	echo "coverage.sh: no fuzz_*_replay in $build" >&2
	exit 1
fi
"$profdata" merge -sparse "$prof"/*.profraw -o "$prof/all.profdata"
args=("${objs[0]}")
for o in "${objs[@]:1}"; do
	args+=(-object "$o")
done
"$cov" show "${args[@]}" -instr-profile="$prof/all.profdata" -format=html \
	-show-branches=count -output-dir="$build/coverage" "${PARSER_FILES[@]}" >/dev/null

# llvm-cov report columns: Filename Regions Missed Cover Functions Missed
# Executed Lines Missed Cover Branches Missed Cover
echo "| parser file | lines | line coverage | branches | branch coverage |"
echo "|---|---:|---:|---:|---:|"
"$cov" report "${args[@]}" -instr-profile="$prof/all.profdata" "${PARSER_FILES[@]}" |
	awk -v root="$PWD/" '$1 ~ /\.c$/ || $1 == "TOTAL" {
		f = $1; sub(root, "", f)
		printf "| %s | %s | %s | %s | %s |\n", f, $8, $10, $11, $13 }'
echo
echo "HTML report: $build/coverage/index.html"
