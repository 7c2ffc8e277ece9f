#!/usr/bin/env bash
# bench/postgres.sh: phivault on PostgreSQL, one node and two nodes sharing
# one database, against the SQLite default and PostgreSQL+pgcrypto alone, on
# this machine, in one run (`make bench` runs it after bench/run.sh).
#
#   bench/postgres.sh [--quick]
#   --quick: 5 s a workload (full: 20 s)
#   env: BUILD=dir (default build), BENCH_SECONDS=N (a workload),
#        BENCH_RECORDS=N (records seeded per vault; 300)
#
# Workloads: record create (8 connections) and record read (32 connections)
# through
#   - one node on SQLite (the default: its own data directory),
#   - one node on PostgreSQL ([store] backend = postgres),
#   - two nodes on the same PostgreSQL database (two `phivault serve`, each
#     its own data directory, a copy of the first one's after its first
#     serve: same seal material and [store] settings, its own [server] node
#     and port; docs/scaling.md "Several nodes on one database"), the load
#     split across both by two wrk processes at once (4 + 4 and 16 + 16
#     connections);
# and pgbench with pgcrypto's pgp_sym_encrypt INSERT (8 clients) and
# pgp_sym_decrypt SELECT (32 clients) alone on the same PostgreSQL (the
# baseline of every ratio).
#
# Everything listens on 127.0.0.1 only: its own initdb cluster on a free
# port (as the postgres user), phivault servers on free ports. Servers
# (postgres and every phivault) run pinned to CPU 0, load generators (wrk,
# pgbench) to CPU 1. Every server this script starts is stopped by its PID
# when it ends, however it ends (trap); nothing goes through the system's
# service manager.
#
# Writes bench/results/postgres.md (the table and the machine); scratch files
# in bench/results/postgres.tmp/ (ignored by git, removed at the next run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=0
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1 ;;
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	*)
		echo "bench/postgres.sh: unknown argument $a" >&2
		exit 2
		;;
	esac
done

BUILD=${BUILD:-build}
case "$BUILD" in /*) BUILD_DIR=$BUILD ;; *) BUILD_DIR=$ROOT/$BUILD ;; esac
BIN=$BUILD_DIR/phivault
if [ "$QUICK" = 1 ]; then
	SECS=${BENCH_SECONDS:-5}
	MODE=quick
else
	SECS=${BENCH_SECONDS:-20}
	MODE=full
fi
SEED_RECORDS=${BENCH_RECORDS:-300}
SRV_CPU=0
GEN_CPU=1
RESULTS=$ROOT/bench/results
WORK=$RESULTS/postgres.tmp
LUA=$ROOT/bench/lua
PGBIN=/usr/lib/postgresql/15/bin


BENCH_NAME=bench/postgres
WAIT_HTTPS_TRIES=300   # nodes start slower than one server
. "$ROOT/bench/lib.sh"   # log, die, stop_pid, deps_install, conf_set, api, ...

# ---------------------------------------------------------------- cleanup
STARTED=()   # phivault PIDs, stopped in reverse order on exit
PG_PID=
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		stop_pid "${STARTED[$i]}"
	done
	stop_pid "$PG_PID" INT
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- dependencies
# wrk, PostgreSQL 15 (pgcrypto is in Debian 12's postgresql-15), taskset
# (util-linux), jq, curl, ss (iproute2). A policy-rc.d that says "no" keeps
# Debian's postinst from starting a cluster as a service (only if the system
# has none); this script runs its own.
BENCH_PACKAGES="wrk postgresql util-linux jq curl iproute2"

# ---------------------------------------------------------------- helpers







# ---------------------------------------------------------------- PostgreSQL
postgres_start() {
	local i
	PG=$WORK/pg
	PG_PORT=$(free_port)
	mkdir -p "$PG/data" "$PG/sock"
	chown -R postgres:postgres "$PG"
	chmod 755 "$WORK" "$RESULTS" "$ROOT/bench" 2>/dev/null || true
	runuser -u postgres -- "$PGBIN/initdb" -D "$PG/data" -A trust -U postgres >"$WORK/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -3 "$WORK/initdb.log")"
	taskset -c "$SRV_CPU" runuser -u postgres -- "$PGBIN/postgres" -D "$PG/data" -p "$PG_PORT" \
		-k "$PG/sock" -c listen_addresses=127.0.0.1 -c shared_buffers=128MB \
		-c max_connections=200 >"$WORK/postgres.log" 2>&1 &
	for i in $(seq 1 100); do
		[ -s "$PG/data/postmaster.pid" ] && PG_PID=$(head -1 "$PG/data/postmaster.pid") && break
		sleep 0.1
	done
	[ -n "$PG_PID" ] || die "postgres did not start: $(tail -5 "$WORK/postgres.log")"
	for i in $(seq 1 100); do
		"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
		sleep 0.1
	done
	log "postgres pid $PG_PID on port $PG_PORT (CPU $SRV_CPU)"
	PSQL=(runuser -u postgres -- env PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -q
		-v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
	"${PSQL[@]}" -c "CREATE DATABASE phivault" >/dev/null
	"${PSQL[@]}" -f - <bench/pg/schema.sql >/dev/null
	for i in $(seq 1 "$SEED_RECORDS"); do cat bench/pg/insert.sql; done |
		sed "s/:n/$RANDOM/g; /^\\\\set/d" | "${PSQL[@]}" -f - >/dev/null
	cp bench/pg/insert.sql bench/pg/select.sql "$PG/"
	chown postgres:postgres "$PG"/*.sql
	PG_URL="host=127.0.0.1 port=$PG_PORT user=postgres dbname=phivault"
}

# ---------------------------------------------------------------- phivault
PATIENTS='{"name":"patients","region":"local","retention_days":2190,"fields":[
 {"name":"name","type":"string","classification":"phi","mask":"full"},
 {"name":"ssn","type":"ssn","classification":"phi","mask":"last4","searchable":true},
 {"name":"mrn","type":"mrn","classification":"phi","mask":"last4","searchable":true},
 {"name":"dob","type":"date","classification":"phi","mask":"full"},
 {"name":"notes","type":"string","classification":"phi","mask":"full"}]}'

# node_init NAME BACKEND: a data directory $WORK/NAME (init, MFA off for the
# record workloads, its port); BACKEND postgres: [store] on the cluster
node_init() {
	local d=$WORK/$1
	"$BIN" init --json --data "$d" >"$WORK/init-$1.json" 2>"$WORK/init-$1.log" ||
		die "phivault init failed: $(tail -3 "$WORK/init-$1.log")"
	conf_set "$d/phivault.conf" listen "127.0.0.1:$(free_port)" server
	conf_set "$d/phivault.conf" mfa_required off
	if [ "$2" = postgres ]; then
		conf_set "$d/phivault.conf" backend postgres store
		conf_set "$d/phivault.conf" url "$PG_URL" store
		sed -i "/^\\[server\\]/a node = $1" "$d/phivault.conf"
	fi
}

# node_start NAME: serve, pinned to the server CPU; sets NODE_PID, NODE_URL
node_start() {
	local d=$WORK/$1 port
	port=$(awk '/^\[server\]/ { s = 1; next } /^\[/ { s = 0 } s && /^listen = / { sub(/.*:/, ""); print; exit }' \
		"$d/phivault.conf")
	taskset -c "$SRV_CPU" "$BIN" serve --data "$d" --dev >"$WORK/$1.log" 2>&1 &
	NODE_PID=$!
	STARTED+=("$NODE_PID")
	NODE_URL=https://127.0.0.1:$port
	wait_https "$NODE_URL/v1/sys/health" "$NODE_PID" ||
		die "phivault serve ($1) did not come up: $(tail -5 "$WORK/$1.log")"
	pin_all "$SRV_CPU" "$NODE_PID"
	log "phivault $1 pid $NODE_PID on $NODE_URL (CPU $SRV_CPU)"
}

# vault_setup NAME: admin's first login, the collection, a clinician
# (approved), SEED_RECORDS records; TOKEN (the clinician's), $WORK/ids-NAME.txt
vault_setup() {
	local d=$WORK/$1 otp rec
	PV_URL=$NODE_URL
	PV_CA=$d/tls/cert.pem
	NEWPW="$(head -c 15 /dev/urandom | base64 | tr '+/' '-_')"
	first_login admin "$(jq -r .admin_password "$WORK/init-$1.json")"
	ADMIN_TOKEN=$FL_TOKEN
	api_expect POST /v1/collections "$ADMIN_TOKEN" "$PATIENTS" 201 200 >/dev/null
	otp=$(approved_user \
		'{"username":"bench-clinician","display_name":"Bench Clinician","email":"clinician@example.invalid","roles":["clinician"]}' \
		"$ADMIN_TOKEN" "$d")
	first_login bench-clinician "$otp"
	TOKEN=$FL_TOKEN
	if [ -z "$TOKEN" ] || [ "$TOKEN" = null ]; then die "clinician login failed"; fi
	log "$1: seeding $SEED_RECORDS records"
	: >"$WORK/ids-$1.txt"
	awk -v n="$SEED_RECORDS" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"name\":\"Seed Patient %d\",\"ssn\":\"%03d-%02d-%04d\",\"mrn\":\"SEED-%06d\",\"dob\":\"1960-01-01\",\"notes\":\"%s\"}\n",
			i, 700 + i % 100, 1 + i % 99, i, i, sprintf("%900s", "") }' | tr -s ' ' 'x' |
		while IFS= read -r rec; do
			api_expect POST /v1/collections/patients/records "$TOKEN" "$rec" 201 | jq -r .id
		done >"$WORK/ids-$1.txt"
	[ "$(grep -c '^rec_' "$WORK/ids-$1.txt")" -eq "$SEED_RECORDS" ] || die "seeding $1 failed"
}

# ---------------------------------------------------------------- load
# One row per measurement: workload|nodes|backend|rps|p50_ms|p99_ms|errors
ROWS=$WORK/rows.txt

# wrk_bg OUT CONNS URL SCRIPT IDS: wrk pinned to the generator CPU, in the
# background (WRK_PID)
wrk_bg() {
	BENCH_LUA="$LUA" BENCH_TOKEN="$TOKEN" BENCH_COLL=patients BENCH_IDS="$5" \
		taskset -c "$GEN_CPU" wrk -t1 -c"$2" -d"${SECS}s" --timeout 10s -s "$LUA/$4" "$3" \
		>"$1" 2>&1 &
	WRK_PID=$!
}

# load WORKLOAD BACKEND SCRIPT CONNS IDS URL...: CONNS split evenly over the
# URLs, one wrk process each, all at once; one row: the sum of the rates,
# the worst p50 and p99 of the processes, the sum of the errors
load() {
	local workload=$1 backend=$2 script=$3 conns=$4 ids=$5 n i pids=() outs=()
	shift 5
	n=$#
	i=0
	for u in "$@"; do
		wrk_bg "$WORK/wrk-$workload-$backend-$n-$i.txt" $((conns / n)) "$u" "$script" "$ids"
		pids+=("$WRK_PID")
		outs+=("$WORK/wrk-$workload-$backend-$n-$i.txt")
		i=$((i + 1))
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || die "wrk failed for $workload/$backend: $(tail -3 "${outs[$i]}")"
		grep -q '^BENCH ' "${outs[$i]}" || die "no result from wrk: $(tail -3 "${outs[$i]}")"
	done
	grep -h '^BENCH ' "${outs[@]}" | awk -v w="$workload" -v nodes="$n" -v b="$backend" '
	{ delete v; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	  rps += v["requests"] / (v["duration_us"] / 1e6)
	  if (v["p50_us"] > p50) p50 = v["p50_us"]
	  if (v["p99_us"] > p99) p99 = v["p99_us"]
	  err += v["connect"] + v["read"] + v["write"] + v["status"] + v["timeout"] }
	END { printf "%s|%d|%s|%.1f|%.2f|%.2f|%d\n", w, nodes, b, rps, p50 / 1000, p99 / 1000, err }' \
		>>"$ROWS"
	log "$(tail -1 "$ROWS")"
}

# pgbench_run WORKLOAD SCRIPT CLIENTS: pgcrypto alone
pgbench_run() {
	local out=$PG/pgbench-$1.txt
	rm -f "$PG"/pgbench_log.*
	(cd "$PG" && taskset -c "$GEN_CPU" runuser -u postgres -- "$PGBIN/pgbench" -n -h 127.0.0.1 \
		-p "$PG_PORT" -U postgres -c "$3" -j 1 -T "$SECS" -D rows="$SEED_RECORDS" -l \
		-f "$PG/$2" postgres >"$out" 2>&1) || die "pgbench $1 failed: $(tail -5 "$out")"
	local tps failed
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	sort -n -k3,3 "$PG"/pgbench_log.* | awk -v w="$1" -v tps="$tps" -v failed="${failed:-0}" '
	{ l[NR] = $3 } END { p50 = l[int((NR - 1) * 0.50) + 1]; p99 = l[int((NR - 1) * 0.99) + 1]
		printf "%s|—|pgcrypto|%.1f|%.2f|%.2f|%d\n", w, tps, p50 / 1000, p99 / 1000, failed }' >>"$ROWS"
	log "$(tail -1 "$ROWS")"
}

# ---------------------------------------------------------------- the run
[ -x "$BIN" ] || die "$BIN not found: make build first"
deps_install
rm -rf "$WORK"
mkdir -p "$WORK"
: >"$ROWS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "mode $MODE, ${SECS}s a workload, load average $LOAD0"
postgres_start

# the SQLite default
node_init sqlite sqlite
node_start sqlite
SQ_PID=$NODE_PID
vault_setup sqlite
load create sqlite create.lua 8 "$WORK/ids-sqlite.txt" "$NODE_URL"
load read sqlite read.lua 32 "$WORK/ids-sqlite.txt" "$NODE_URL"
stop_pid "$SQ_PID"

# one node on PostgreSQL (its first serve moves the init's data there)
node_init node-a postgres
node_start node-a
A_URL=$NODE_URL
vault_setup node-a
load create postgres create.lua 8 "$WORK/ids-node-a.txt" "$A_URL"
load read postgres read.lua 32 "$WORK/ids-node-a.txt" "$A_URL"

# a second node: a copy of A's data directory, its own name and port
cp -a "$WORK/node-a/." "$WORK/node-b/"
rm -f "$WORK/node-b/"*.lock
sed -i '/^node = node-a$/d' "$WORK/node-b/phivault.conf"
sed -i "/^\\[server\\]/a node = node-b" "$WORK/node-b/phivault.conf"
conf_set "$WORK/node-b/phivault.conf" listen "127.0.0.1:$(free_port)" server
node_start node-b
B_URL=$NODE_URL
[ "$(curl -s --cacert "$WORK/node-a/tls/cert.pem" "$B_URL/v1/sys/health" | jq -r .node)" = node-b ] ||
	die "node-b does not say it is node-b"
load create postgres create.lua 8 "$WORK/ids-node-a.txt" "$A_URL" "$B_URL"
load read postgres read.lua 32 "$WORK/ids-node-a.txt" "$A_URL" "$B_URL"
"$BIN" audit verify --data "$WORK/node-a" >"$WORK/verify.txt" 2>&1 ||
	die "audit verify after the two-node run failed: $(tail -3 "$WORK/verify.txt")"
for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[$i]}"; done
STARTED=()

# PostgreSQL + pgcrypto alone
pgbench_run pg-insert insert.sql 8
pgbench_run pg-select select.sql 32
stop_pid "$PG_PID" INT
PG_PID=
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
row() { awk -F'|' -v w="$1" -v n="$2" -v b="$3" '$1 == w && $2 == n && $3 == b' "$ROWS"; }
OUT=$RESULTS/postgres.md
{
	echo "| workload | nodes | backend | req/s | p50 ms | p99 ms | errors | ratio to pgcrypto |"
	echo "|---|---:|---|---:|---:|---:|---:|---:|"
	for spec in "create 1 sqlite" "create 1 postgres" "create 2 postgres" "create — pgcrypto" \
		"read 1 sqlite" "read 1 postgres" "read 2 postgres" "read — pgcrypto"; do
		# shellcheck disable=SC2086
		set -- $spec
		base=pg-insert
		[ "$1" = read ] && base=pg-select
		w=$1
		[ "$3" = pgcrypto ] && w=$base
		line=$(row "$w" "$2" "$3")
		[ -n "$line" ] || continue
		brps=$(awk -F'|' -v w="$base" '$1 == w { print $4 }' "$ROWS")
		IFS='|' read -r _ nodes backend rps p50 p99 err <<<"$line"
		label="record $1 ($([ "$1" = create ] && echo 8 || echo 32) conns)"
		[ "$3" = pgcrypto ] && label="$([ "$1" = create ] && echo "pgp_sym_encrypt INSERT (8 clients)" || echo "pgp_sym_decrypt SELECT (32 clients)")"
		echo "| $label | $nodes | $backend | $rps | $p50 | $p99 | $err | $(awk -v a="$rps" -v b="$brps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }') |"
	done
	echo
	echo "bench/postgres.sh ($MODE, ${SECS} s a workload, $SEED_RECORDS records seeded a vault), $(date -u +%Y-%m-%dT%H:%MZ);"
	echo "$(nproc) CPUs ($(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1)), load average $LOAD0 before, $LOAD1 after;"
	echo "servers (postgres, every phivault) pinned to CPU $SRV_CPU, wrk -t1 and pgbench -j1 to CPU $GEN_CPU."
	echo "Two nodes: two wrk processes at once, half the connections each; p50 and p99 are the worse of the two."
} >"$OUT"
cat "$OUT"
