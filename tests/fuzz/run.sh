#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]: the body of `make fuzz`.
#
# Runs each libFuzzer harness of BUILD_DIR (all fuzz_* by default) for SECONDS
# with ASan + UBSan, one after the other, growing a scratch corpus from the
# committed one (tests/fuzz/corpus/<harness>/, also read from
# tests/fuzz/regress/<harness>/). Then merges (-merge=1) into the committed
# corpus only the new inputs that add coverage, so what is committed stays
# minimal and the hand-written seeds keep their names. A crash, leak, timeout
# or out-of-memory input is copied to tests/fuzz/regress/<harness>/ (replayed
# by the normal suite's fuzz_*_replay test from then on) and the run fails.
# Ends with a table: harness, executions, corpus files, edges covered, crashes.
#
# PV_FUZZ_JOBS=N runs N harnesses at a time (default 1); PV_FUZZ_NICE=N runs
# them under nice -n N (default 10). Logs: BUILD_DIR/fuzz-logs/<harness>.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: run.sh BUILD_DIR SECONDS [HARNESS...]}
secs=${2:?usage: run.sh BUILD_DIR SECONDS [HARNESS...]}
shift 2
jobs=${PV_FUZZ_JOBS:-1}
nicen=${PV_FUZZ_NICE:-10}

if [ $# -gt 0 ]; then
	harnesses=("$@")
else
	harnesses=()
	for f in "$build"/fuzz_*; do
		[ -x "$f" ] && [ -f "$f" ] && harnesses+=("$(basename "$f")")
	done
fi
if [ ${#harnesses[@]} -eq 0 ]; then
	echo "run.sh: no fuzz_* harness in $build" >&2
	exit 1
fi
logs=$build/fuzz-logs
mkdir -p "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Dictionaries: tests/fuzz/dict/<harness>.dict if present.
one() {
	local h=$1 corpus=tests/fuzz/corpus/$1 regress=tests/fuzz/regress/$1
	local grow=$build/fuzz-grow/$1 art=$build/fuzz-artifacts/$1/ log=$logs/$1.log
	local dict=() dirs=()
	rm -rf "$grow" "$art"
	mkdir -p "$corpus" "$grow" "$art"
	[ -f "tests/fuzz/dict/$h.dict" ] && dict=("-dict=tests/fuzz/dict/$h.dict")
	dirs=("$grow" "$corpus")
	[ -d "$regress" ] && dirs+=("$regress")
	nice -n "$nicen" "$build/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" \
		"${dirs[@]}" >"$log" 2>&1
	echo "exit: $?" >>"$log"
	# minimize: only what adds coverage over the committed corpus goes in
	nice -n "$nicen" "$build/$h" -merge=1 -timeout=10 -rss_limit_mb=2048 \
		"$corpus" "$grow" >"$log.merge" 2>&1
	if compgen -G "$art*" >/dev/null; then
		mkdir -p "$regress"
		cp "$art"* "$regress"/
	fi
}

pids=()
for h in "${harnesses[@]}"; do
	if [ ! -x "$build/$h" ]; then
		echo "run.sh: $build/$h is not built" >&2
		exit 1
	fi
	echo "== $h: ${secs}s"
	one "$h" &
	pids+=($!)
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
done
wait

fail=0
printf '\n%-24s %12s %8s %8s %8s\n' harness executions corpus edges crashes
for h in "${harnesses[@]}"; do
	log=$logs/$h.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	edges=$(grep -o ' cov: [0-9]*' "$log" | tail -1 | tr -dc 0-9)
	files=$(find "tests/fuzz/corpus/$h" -type f | wc -l)
	crashes=$(find "$build/fuzz-artifacts/$h" -type f | wc -l)
	printf '%-24s %12s %8s %8s %8s\n' "$h" "${execs:-?}" "$files" "${edges:-?}" "$crashes"
	if [ "$crashes" -gt 0 ] || ! grep -q '^exit: 0$' "$log"; then
		fail=1
	fi
done
if [ $fail -ne 0 ]; then
	echo
	echo "run.sh: findings: reproducers copied to tests/fuzz/regress/<harness>/; logs in $logs/" >&2
	exit 1
fi
