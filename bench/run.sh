#!/usr/bin/env bash
# bench/run.sh: phivault side by side with what users would otherwise run,
# on this machine, in one run (`make bench`, `make bench QUICK=1`).
#
#   bench/run.sh [--quick] [--profile] [--baselines-only]
#   --quick:  5 s a workload, 1,000 live sessions (full: 20 s, 10,000)
#   --profile: perf record (DWARF call graphs) of phivault during the read
#             and create workloads: bench/results/profile-{read,create}.txt
#   --baselines-only: nginx, PostgreSQL and Argon2id alone, no phivault
#   env: BUILD=dir (default build; a release build is made there if missing)
#        BENCH_SECONDS=N (a workload), BENCH_SESSIONS=N (the RSS check),
#        BENCH_THREADS=N ([server] threads; default: the config's),
#        BENCH_LOGIN_USERS=N (users with TOTP; quick 150, full 500),
#        BENCH_RECORDS=N (seeded records; 300)
#        BENCH_BEFORE=path (an older phivault: read and create with it and
#        then with this one, back to back), BENCH_POOL=N (the same with
#        [server] threads = N),
#        BENCH_GROWTH="N1 N2 ..." (records stored for the growth curve;
#        quick "10000 100000", full "10000 100000 1000000"; none: skip),
#        BENCH_GROWTH_ROUNDS=N (each size measured N times, interleaved, the
#        median kept; quick 5, full 3)
#
# Everything listens on 127.0.0.1 only. Servers (phivault, nginx, postgres)
# run pinned to CPU 0, load generators (wrk, pgbench, loginload) to CPU 1.
# Every server this script starts is stopped by its PID on exit, whatever
# happens; nothing is started through the system's service manager.
#
# Writes bench/results/latest.md (table + machine description) and
# bench/results/monitoring.md (bench/monitoring.sh: monitoring on vs off); scratch files
# live in bench/results/run.tmp/ (ignored by git, removed at the start of the
# next run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=0
PROFILE=0
ONLY=all
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1 ;;
	--profile) PROFILE=1 ;;
	--baselines-only) ONLY=baselines ;;
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	*)
		echo "bench: unknown argument $a" >&2
		exit 2
		;;
	esac
done

BUILD=${BUILD:-build}
case "$BUILD" in /*) BUILD_DIR=$BUILD ;; *) BUILD_DIR=$ROOT/$BUILD ;; esac
BIN=$BUILD_DIR/phivault
if [ "$QUICK" = 1 ]; then
	SECS=${BENCH_SECONDS:-5}
	SESSIONS=${BENCH_SESSIONS:-1000}
	LOGIN_USERS=${BENCH_LOGIN_USERS:-150}
	MODE=quick
else
	SECS=${BENCH_SECONDS:-20}
	SESSIONS=${BENCH_SESSIONS:-10000}
	LOGIN_USERS=${BENCH_LOGIN_USERS:-500}
	MODE=full
fi
SEED_RECORDS=${BENCH_RECORDS:-300}
# records stored for the growth curve (BENCH_GROWTH=none: skip it)
if [ "$QUICK" = 1 ]; then
	GROWTH_SIZES=${BENCH_GROWTH:-10000 100000}
else
	GROWTH_SIZES=${BENCH_GROWTH:-10000 100000 1000000}
fi
[ "$GROWTH_SIZES" = none ] && GROWTH_SIZES=
G_FIRST=${GROWTH_SIZES%% *}
G_LAST=${GROWTH_SIZES##* }
SRV_CPU=0
GEN_CPU=1
RESULTS=$ROOT/bench/results
WORK=$RESULTS/run.tmp
LUA=$ROOT/bench/lua


BENCH_NAME=bench
[ "$PROFILE" = 1 ] && BENCH_EXTRA_PACKAGES=linux-perf
. "$ROOT/bench/lib.sh"   # log, die, stop_pid, deps_install, conf_set, api, ...

# ---------------------------------------------------------------- cleanup
# PIDs of every server we started, stopped in reverse order on exit.
STARTED=()
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		stop_pid "${STARTED[$i]}"
	done
	[ -n "${PG_PID:-}" ] && stop_pid "$PG_PID" INT
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- dependencies
# nginx, wrk, PostgreSQL 15 with pgcrypto (postgresql-contrib), taskset
# (util-linux), jq, and the headers the three small C tools need (loginload,
# argon2_alone, floor). Debian's postinst scripts would start nginx and a
# PostgreSQL cluster as services: a policy-rc.d that says "no" (only if the
# system has none) prevents that; this script runs its own instances on its
# own ports and data directories.
BENCH_PACKAGES="nginx wrk postgresql postgresql-contrib util-linux jq curl sqlite3
	build-essential libcurl4-openssl-dev libjansson-dev libssl-dev libsodium-dev libsqlite3-dev iproute2"

# ---------------------------------------------------------------- helpers



# utime + stime of a process (all its threads), in clock ticks; 0 if none
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
	[ -n "$1" ] && [ "$1" != - ] && [ -r "/proc/$1/stat" ] || { echo 0; return 0; }
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
rss_reset() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }






# ---------------------------------------------------------------- results
# One row per workload: name|conns|rps|p50_ms|p99_ms|errors|reconnects|rss_kib
ROWS=$WORK/rows.txt

# Client ports of the established connections to 127.0.0.1:PORT.
conn_ports() {
	ss -Htn state established "( dport = :$1 )" 2>/dev/null |
		awk '{ n = split($3, a, ":"); print a[n] }' | sort
}

# run_sampled PORT OUT CMD...: run a load generator (for SECS seconds) in
# the background with its output in OUT; sets RECONN. Keep-alive check: the
# client ports of the connections to PORT one second in and one second
# before the end; a connection closed and reopened in between has a new
# port, counted in RECONN.
run_sampled() {
	local port=$1 out=$2 bpid first last
	shift 2
	"$@" >"$out" 2>&1 &
	bpid=$!
	sleep 1
	first=$(conn_ports "$port")
	sleep $((SECS > 2 ? SECS - 2 : 0))
	last=$(conn_ports "$port")
	RECONN=$(comm -13 <(echo "$first") <(echo "$last") | grep -c . || true)
	[ -n "$first" ] || log "warning: no connection to port $port seen during the run"
	wait "$bpid"
}

# run_wrk NAME CONNS URL SCRIPT PID(or -) [VAR=value...]: wrk pinned to the
# generator CPU; appends a row.
run_wrk() {
	local name=$1 conns=$2 url=$3 script=$4 pid=$5 out port
	shift 5
	out=$WORK/wrk-$name.txt
	port=${url##*:}
	port=${port%%/*}
	[ "$pid" != - ] && rss_reset "$pid"
	# the previous run's connections gone from the server first: phivault
	# refuses a 33rd connection from one address (max_connections_per_ip), and
	# wrk counts each refused one as a connect error and retries at once
	local i
	for i in $(seq 1 50); do
		[ -z "$(ss -Htn state established state close-wait "( sport = :$port )" 2>/dev/null)" ] && break
		sleep 0.1
	done
	# the server's CPU time over the run (every thread; nginx: its worker)
	local cpid=$pid c0 c1
	[ "$cpid" = - ] && case "$name" in nginx-*) cpid=$(pgrep -P "$NG_PID" | head -1) ;; esac
	c0=$(cpu_ticks "$cpid")
	run_sampled "$port" "$out" env BENCH_LUA="$LUA" "$@" taskset -c "$GEN_CPU" \
		wrk -t1 -c"$conns" -d"${SECS}s" --timeout 10s -s "$LUA/$script" "$url" ||
		die "wrk failed for $name: $(tail -3 "$out")"
	c1=$(cpu_ticks "$cpid")
	local line reconn=$RECONN rss=0
	line=$(grep '^BENCH ' "$out") || die "no result from wrk for $name: $(tail -3 "$out")"
	[ "$pid" != - ] && rss=$(rss_kib "$pid" VmHWM)
	awk -v name="$name" -v conns="$conns" -v reconn="$reconn" -v rss="$rss" \
		-v ticks=$((c1 - c0)) -v hz="$CLK_TCK" '
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END {
		rps = v["requests"] / (v["duration_us"] / 1e6)
		err = v["connect"] + v["read"] + v["write"] + v["status"] + v["timeout"]
		cpu = v["requests"] > 0 && ticks > 0 ? ticks / hz * 1e6 / v["requests"] : 0
		printf "%s|%d|%.1f|%.2f|%.2f|%d|%d|%d|%.0f\n", name, conns, rps,
			v["p50_us"] / 1000, v["p99_us"] / 1000, err, reconn, rss, cpu
	}' <<<"$line" >>"$ROWS"
	log "$(tail -1 "$ROWS")"
}

row_get() { awk -F'|' -v n="$1" -v c="$2" '$1 == n { print $c }' "$ROWS"; }

# ---------------------------------------------------------------- phivault
# The benchmark's collection: five PHI fields, two of them searchable.
PATIENTS='{"name":"patients","region":"local","retention_days":2190,"fields":[
 {"name":"name","type":"string","classification":"phi","mask":"full"},
 {"name":"ssn","type":"ssn","classification":"phi","mask":"last4","searchable":true},
 {"name":"mrn","type":"mrn","classification":"phi","mask":"last4","searchable":true},
 {"name":"dob","type":"date","classification":"phi","mask":"full"},
 {"name":"notes","type":"string","classification":"phi","mask":"full"}]}'

# Start phivault serve, make an admin and a clinician, seed the records,
# write the bytes nginx will serve, and make the login workload's users.
phivault_setup() {
	taskset -c "$SRV_CPU" "$BIN" serve --data "$PV_DATA" --dev >"$WORK/phivault.log" 2>&1 &
	PV_PID=$!
	STARTED+=("$PV_PID")
	wait_https "$PV_URL/v1/sys/health" "$PV_PID" ||
		die "phivault serve did not come up: $(tail -5 "$WORK/phivault.log")"
	log "phivault serve pid $PV_PID on $PV_URL (CPU $SRV_CPU)"
	# setup runs on both CPUs; the measurements on CPU 0 only
	pin_all 0,1 "$PV_PID"

	NEWPW="$(head -c 15 /dev/urandom | base64 | tr '+/' '-_')"
	first_login admin "$ADMIN_OTP"
	ADMIN_TOKEN=$FL_TOKEN
	ADMIN_PW=$NEWPW
	[ -n "$ADMIN_TOKEN" ] && [ "$ADMIN_TOKEN" != null ] || die "admin login failed"

	api_expect POST /v1/collections "$ADMIN_TOKEN" "$PATIENTS" 201 200 >/dev/null
	CLIN_OTP=$(approved_user \
		'{"username":"bench-clinician","display_name":"Bench Clinician","email":"clinician@example.invalid","roles":["clinician"]}' \
		"$ADMIN_TOKEN" "$PV_DATA")
	first_login bench-clinician "$CLIN_OTP"
	TOKEN=$FL_TOKEN
	CLIN_PW=$NEWPW
	[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || die "clinician login failed"
	# for looking at a workload again by hand (docs/performance.md, "Profiling")
	printf 'PV_DATA=%q\nPV_CA=%q\nNEWPW=%q\n' "$PV_DATA" "$PV_CA" "$NEWPW" >"$WORK/env.sh"

	# Seed records: ~1 KiB each, five PHI fields, two searchable (ssn, mrn).
	# Seeded SSNs use areas 700-799 and created ones 100-599, so a search
	# always finds exactly one record.
	log "seeding $SEED_RECORDS records"
	awk -v n="$SEED_RECORDS" 'BEGIN {
		split("Avery Blake Casey Devon Emery Finley Harper Jordan Kendall Logan Morgan Parker Quinn Reese Rowan Sawyer Taylor", g, " ")
		split("Abbott Barnes Carter Dalton Ellison Fletcher Garrison Hayes Ingram Jensen Keller Lawson Mercer Nolan Osborne Porter", f, " ")
		note = "Patient seen for routine follow-up. History of hypertension and type 2 diabetes, well controlled on metformin 500 mg twice daily and lisinopril 10 mg daily. Reports occasional morning headaches, no chest pain, no shortness of breath. Blood pressure 132/84, pulse 72, BMI 27.4. HbA1c 6.8 percent last quarter. Plan: continue current medication, low-sodium diet counselling, recheck HbA1c and lipid panel in three months, ophthalmology referral for annual retinal exam. Allergies: penicillin (rash). Emergency contact on file. Next appointment in twelve weeks; call earlier if symptoms worsen. Social history: non-smoker, occasional alcohol, walks thirty minutes daily. Family history: father with coronary artery disease at 58, mother with type 2 diabetes. Medication reconciliation completed; patient understood the plan and agreed to keep a home blood pressure log."
		for (i = 1; i <= n; i++) {
			printf "{\"name\":\"%s %s %d\",\"ssn\":\"%03d-%02d-%04d\",\"mrn\":\"SEED-%06d\",\"dob\":\"19%02d-%02d-%02d\",\"notes\":\"%s Visit %d.\"}\n",
				g[1 + i % 17], f[1 + i % 16], i, 700 + i % 100, 1 + i % 99, i, i, 30 + i % 70, 1 + i % 12, 1 + i % 28, note, i
		}
	}' >"$WORK/seed.jsonl"
	: >"$WORK/ids.txt"
	while IFS= read -r rec; do
		api_expect POST /v1/collections/patients/records "$TOKEN" "$rec" 201 | jq -r .id >>"$WORK/ids.txt"
	done <"$WORK/seed.jsonl"
	jq -r .ssn "$WORK/seed.jsonl" >"$WORK/ssns.txt"
	[ "$(grep -c '^rec_' "$WORK/ids.txt")" -eq "$SEED_RECORDS" ] || die "seeding failed"

	# the exact bytes of one read response, for nginx
	FIRST_ID=$(head -1 "$WORK/ids.txt")
	mkdir -p "$WORK/nginx/html" "$WORK/nginx/logs"
	api_expect GET "/v1/collections/patients/records/$FIRST_ID" "$TOKEN" "" 200 >"$WORK/nginx/html/record.json"
	curl -s --cacert "$PV_CA" "$PV_URL/v1/sys/health" >"$WORK/nginx/html/health.json"
	READ_BYTES=$(wc -c <"$WORK/nginx/html/record.json")
	log "one read response is $READ_BYTES bytes"
	grep -q '"\*\*\*\*"' "$WORK/nginx/html/record.json" && log "warning: the read response is masked"

	# users for the login workload: password + TOTP each
	log "creating $LOGIN_USERS users with TOTP for the login workload"
	taskset -c "$GEN_CPU" "$WORK/loginload" --url "$PV_URL" --cacert "$PV_CA" setup \
		--admin-token "$ADMIN_TOKEN" --count "$LOGIN_USERS" --prefix bench-login- \
		--out "$WORK/login-users.txt" --threads 4 >"$WORK/login-setup.txt" ||
		die "login user setup failed: $(cat "$WORK/login-setup.txt")"
	pin_all "$SRV_CPU" "$PV_PID"
	export BENCH_TOKEN=$TOKEN BENCH_COLL=patients BENCH_IDS=$WORK/ids.txt BENCH_SSNS=$WORK/ssns.txt
}

# login: password + TOTP, 8 clients
phivault_login() {
	rss_reset "$PV_PID"
	run_sampled "$PV_PORT" "$WORK/login.txt" taskset -c "$GEN_CPU" "$WORK/loginload" \
		--url "$PV_URL" --cacert "$PV_CA" run --users "$WORK/login-users.txt" \
		--seconds "$SECS" --threads 8 || true
	awk -v opened="$RECONN" -v rss="$(rss_kib "$PV_PID" VmHWM)" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END { printf "login|8|%.1f|%.2f|%.2f|%d|%d|%d\n", v["rate"], v["p50_ms"], v["p99_ms"], v["errors"], opened, rss }' \
		"$WORK/login.txt" >>"$ROWS"
	grep -q 'first_error=' "$WORK/login.txt" && log "login: $(sed 's/.*first_error=//' "$WORK/login.txt")"
	LOGIN_STARVED=$(sed -n 's/.*starved_ms=\([0-9]*\).*/\1/p' "$WORK/login.txt")
	if [ "${LOGIN_STARVED:-0}" -gt 0 ]; then
		log "warning: the login workload ran out of users for ${LOGIN_STARVED} ms (TOTP steps); raise BENCH_LOGIN_USERS"
		NOTES="${NOTES}- The login workload waited ${LOGIN_STARVED} ms for users whose next TOTP step was free: its rate is a lower bound (BENCH_LOGIN_USERS=$LOGIN_USERS).
"
	fi
	log "$(tail -1 "$ROWS")"
}

# RSS with SESSIONS live sessions: a second phivault with the cheapest
# Argon2id that config accepts (OWASP: t=3, 12 MiB), so that the logins
# take minutes, not a quarter hour.
sessions_rss() {
	log "RSS with $SESSIONS live sessions"
	S_DATA=$WORK/pv-sessions
	S_PORT=$(free_port)
	"$BIN" init --json --data "$S_DATA" >"$WORK/init-s.json" 2>>"$WORK/init.log" || die "init (sessions) failed"
	conf_set "$S_DATA/phivault.conf" listen "127.0.0.1:$S_PORT"
	conf_set "$S_DATA/phivault.conf" mfa_required off
	conf_set "$S_DATA/phivault.conf" argon2_opslimit 3
	conf_set "$S_DATA/phivault.conf" argon2_memlimit_kib 12288
	conf_set "$S_DATA/phivault.conf" idle_timeout_s 3600
	"$BIN" serve --data "$S_DATA" --dev >"$WORK/phivault-sessions.log" 2>&1 &
	S_PID=$!
	STARTED+=("$S_PID")
	PV_URL_SAVE=$PV_URL PV_CA_SAVE=$PV_CA
	PV_URL=https://127.0.0.1:$S_PORT PV_CA=$S_DATA/tls/cert.pem
	wait_https "$PV_URL/v1/sys/health" "$S_PID" || die "phivault (sessions) did not come up"
	S_OTP=$(jq -r .admin_password "$WORK/init-s.json")
	first_login admin "$S_OTP"
	S_TOKEN=$FL_TOKEN
	[ -n "$S_TOKEN" ] && [ "$S_TOKEN" != null ] || die "login (sessions) failed"
	S_RSS0=$(rss_kib "$S_PID" VmRSS)
	"$WORK/loginload" --url "$PV_URL" --cacert "$PV_CA" sessions --username admin \
		--password "$NEWPW" --count "$SESSIONS" --threads 4 >"$WORK/sessions.txt" || true
	# a read of every session's state would need every token; instead touch the
	# store and the cache: one authenticated request, then measure
	api_expect GET /v1/auth/session "$S_TOKEN" "" 200 >/dev/null
	S_RSS=$(rss_kib "$S_PID" VmRSS)
	S_HWM=$(rss_kib "$S_PID" VmHWM)
	S_MADE=$(sed -n 's/.*logins=\([0-9]*\).*/\1/p' "$WORK/sessions.txt")
	log "sessions: $(cat "$WORK/sessions.txt"); RSS ${S_RSS} KiB (peak ${S_HWM} KiB)"
	stop_pid "$S_PID"
	PV_URL=$PV_URL_SAVE PV_CA=$PV_CA_SAVE
}

# ---------------------------------------------------------------- churn
# Read latency while a synthetic job churns the store at full speed, against
# the idle read of the same binary on the same data in the same run: the
# first phivault's data directory again, served by phivault-test (the job
# kind test.count and POST /v1/test/jobs exist only there) with the runner
# unthrottled (jobs_step_pause_ms = 0, jobs_max_steps_per_s = 100000).
TBIN=$BUILD_DIR/phivault-test
job_done() { api_expect GET "/v1/jobs/$1" "$ADMIN_TOKEN" "" 200 | jq -r .done; }
now_s() { date +%s.%N; }
# The floor (bench/floor.c): the parts an audited read and a create cannot do
# without in this design, each measured alone on a copy of the first
# phivault's database (stopped), pinned to the server's CPU.
phivault_floor() {
	log "floor: the parts of a read and a create alone, on a copy of the data"
	rm -rf "$WORK/floor.d"
	mkdir -p "$WORK/floor.d"
	cp "$PV_DATA/phivault.db" "$WORK/floor.d/"
	[ -f "$PV_DATA/phivault.db-wal" ] && cp "$PV_DATA/phivault.db-wal" "$WORK/floor.d/"
	taskset -c "$SRV_CPU" "$WORK/floor" -d "$WORK/floor.d/phivault.db" \
		-r "$WORK/nginx/html/record.json" -n "$([ "$QUICK" = 1 ] && echo 5000 || echo 20000)" \
		-g 32 -G 8 >"$WORK/floor.txt" 2>"$WORK/floor.log" || die "floor failed: $(tail -3 "$WORK/floor.log")"
	rm -rf "$WORK/floor.d"
	cat "$WORK/floor.txt" >&2
}
floor_get() { awk -F'|' -v n="$1" '$2 == n { print $3 }' "$WORK/floor.txt"; }

phivault_churn() {
	[ -x "$TBIN" ] || die "$TBIN is missing (cmake --build $BUILD_DIR --target phivault-test)"
	log "churn: phivault-test on the same data, a test.count job at full speed"
	conf_set "$PV_CONF" jobs_step_pause_ms 0
	conf_set "$PV_CONF" jobs_max_steps_per_s 100000
	taskset -c "$SRV_CPU" "$TBIN" serve --data "$PV_DATA" --dev >"$WORK/phivault-test.log" 2>&1 &
	PV_PID=$!
	STARTED+=("$PV_PID")
	wait_https "$PV_URL/v1/sys/health" "$PV_PID" ||
		die "phivault-test serve did not come up: $(tail -5 "$WORK/phivault-test.log")"
	ADMIN_TOKEN=$(login_pw admin "$ADMIN_PW")
	TOKEN=$(login_pw bench-clinician "$CLIN_PW")
	BENCH_TOKEN=$TOKEN
	run_wrk read-idle 32 "$PV_URL" read.lua "$PV_PID"
	local job d0 d1 d2 t0 t1 t2
	job=$(api_expect POST /v1/test/jobs "$ADMIN_TOKEN" '{"n":1000000}' 202 200 201 | jq -r .job)
	[ -n "$job" ] && [ "$job" != null ] || die "no test job"
	sleep 1
	d0=$(job_done "$job") t0=$(now_s)
	sleep 2
	d1=$(job_done "$job") t1=$(now_s)
	run_wrk read-churn 32 "$PV_URL" read.lua "$PV_PID"
	d2=$(job_done "$job") t2=$(now_s)
	api POST "/v1/jobs/$job/cancel" "$ADMIN_TOKEN" >/dev/null
	CHURN_ALONE=$(awk -v a="$d0" -v b="$d1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')
	CHURN_LOADED=$(awk -v a="$d1" -v b="$d2" -v s="$t1" -v e="$t2" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')
	log "churn: job steps/s alone $CHURN_ALONE, during the reads $CHURN_LOADED"
	[ "$d2" -gt "$d1" ] || die "the job made no progress during the read-churn workload"
	stop_pid "$PV_PID"
}

# ---------------------------------------------------------------- before/after
# BENCH_BEFORE=path/to/an/older/phivault: read and create with that binary
# and then with this one, on the first phivault's data, one right after the
# other (rows read-before, create-before, read-after, create-after), so that
# a change is measured against its baseline in the same run.
# BENCH_POOL=N: the same pair again with this binary and [server] threads = N.
pv_restart() { # BIN THREADS
	local t=$2
	conf_set "$PV_CONF" threads "$t"
	taskset -c "$SRV_CPU" "$1" serve --data "$PV_DATA" --dev >>"$WORK/phivault-compare.log" 2>&1 &
	PV_PID=$!
	STARTED+=("$PV_PID")
	wait_https "$PV_URL/v1/sys/health" "$PV_PID" ||
		die "$1 serve did not come up: $(tail -5 "$WORK/phivault-compare.log")"
	BENCH_TOKEN=$(login_pw bench-clinician "$CLIN_PW")
}
phivault_compare() {
	local t0=${PV_THREADS:-0} name bin
	for name in before after; do
		bin=$BIN
		[ "$name" = before ] && bin=$BENCH_BEFORE
		log "compare: $name ($bin, threads $t0)"
		pv_restart "$bin" "$t0"
		run_wrk "read-$name" 32 "$PV_URL" read.lua "$PV_PID"
		run_wrk "create-$name" 8 "$PV_URL" create.lua "$PV_PID"
		stop_pid "$PV_PID"
	done
	if [ -n "${BENCH_POOL:-}" ]; then
		log "compare: pool ($BIN, threads $BENCH_POOL)"
		pv_restart "$BIN" "$BENCH_POOL"
		run_wrk read-pool 32 "$PV_URL" read.lua "$PV_PID"
		run_wrk create-pool 8 "$PV_URL" create.lua "$PV_PID"
		stop_pid "$PV_PID"
	fi
	conf_set "$PV_CONF" threads "$t0"
}

# ---------------------------------------------------------------- growth
# Read and create rates with GROWTH_SIZES records stored. Seeding, in a data
# directory of its own: records:batch (100 records a request, 8 connections,
# both CPUs). At each size the server is stopped and the directory kept as
# that size's snapshot. Then the sizes are measured back to back,
# GROWTH_ROUNDS times, interleaved (10k, 1M, 10k, 1M, ...), each time a fresh
# server on the size's snapshot (a fresh copy of it for the smaller sizes;
# the largest in place, which grows by its own creates, a few percent at
# most), its database file read once (page cache), pinned to its CPU, idle
# before the load starts; reads over a random sample of 20,000 of the IDs
# stored at that size, creates as in the create workload. The row of a size
# is the median of its rounds, each column on its own. Measured 15 minutes
# apart (the seeding between them), one run each, the two sizes met
# different load on this shared VM and the ratio moved by as much as the
# data did (docs/performance.md, "Growth: what grows with the data").
GROWTH=$WORK/growth.txt   # size|records|seed_s|seed_rate|db_bytes|record_bytes|audit_entry_bytes
GROWTH_ROUNDS=${BENCH_GROWTH_ROUNDS:-$([ "$QUICK" = 1 ] && echo 5 || echo 3)}

# wait_idle PID: until PID spends < 3% of a CPU over a second (at most 60 s)
wait_idle() {
	local a b i
	for i in $(seq 1 60); do
		a=$(cpu_ticks "$1")
		sleep 1
		b=$(cpu_ticks "$1")
		[ $(((b - a) * 100)) -lt $((CLK_TCK * 3)) ] && return 0
	done
	log "warning: pid $1 still busy after 60 s; measuring anyway"
}

# row_median NAME: a row NAME whose every column is the median of the rows
# NAME-r1, NAME-r2, ...
row_median() {
	local line
	line=$(awk -F'|' -v n="$1" '
	index($1, n "-r") == 1 && $1 ~ /-r[0-9]+$/ {
		k++
		for (c = 2; c <= NF; c++) v[c, k] = $c
		nf = NF
	}
	END {
		if (k == 0) exit
		line = n
		for (c = 2; c <= nf; c++) {
			for (i = 1; i <= k; i++) a[i] = v[c, i] + 0
			for (i = 2; i <= k; i++)   # insertion sort: k is small
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			m = k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
			line = line "|" (c == 3 || c == 4 || c == 5 ? sprintf("%.2f", m) : sprintf("%.0f", m))
		}
		print line
	}' "$ROWS")
	[ -n "$line" ] || return 0
	printf '%s\n' "$line" >>"$ROWS"
	log "$line (median of $GROWTH_ROUNDS)"
}

growth_serve() { # data-dir -> G_PID; the server pinned to SRV_CPU from its start
	PV_CA=$1/tls/cert.pem
	taskset -c "$SRV_CPU" "$BIN" serve --data "$1" --dev >>"$WORK/phivault-growth.log" 2>&1 &
	G_PID=$!
	STARTED+=("$G_PID")
	wait_https "$PV_URL/v1/sys/health" "$G_PID" || die "phivault (growth) did not come up: $(tail -3 "$WORK/phivault-growth.log")"
}

phivault_growth() {
	local g_data=$WORK/pv-growth g_port have=0 size need t0 t1 n db na rb ab g_pw r dir
	g_port=$(free_port)
	: >"$GROWTH"
	"$BIN" init --json --data "$g_data" >"$WORK/init-g.json" 2>>"$WORK/init.log" || die "init (growth) failed"
	conf_set "$g_data/phivault.conf" listen "127.0.0.1:$g_port"
	conf_set "$g_data/phivault.conf" mfa_required off
	[ -n "${BENCH_THREADS:-}" ] && conf_set "$g_data/phivault.conf" threads "$BENCH_THREADS"
	local url_save=$PV_URL ca_save=$PV_CA token_save=$BENCH_TOKEN ids_save=$BENCH_IDS
	PV_URL=https://127.0.0.1:$g_port
	: >"$WORK/phivault-growth.log"
	growth_serve "$g_data"
	first_login admin "$(jq -r .admin_password "$WORK/init-g.json")"
	local g_admin=$FL_TOKEN
	api_expect POST /v1/collections "$g_admin" "$PATIENTS" 201 200 >/dev/null
	first_login bench-clinician "$(approved_user \
		'{"username":"bench-clinician","display_name":"Bench Clinician","email":"clinician@example.invalid","roles":["clinician"]}' \
		"$g_admin" "$g_data")"
	g_pw=$NEWPW
	BENCH_TOKEN=$FL_TOKEN
	: >"$WORK/growth-ids.txt"
	for size in $GROWTH_SIZES; do
		need=$((size - have))
		if [ "$need" -gt 0 ]; then
			log "growth: seeding $need records (to $size)"
			pin_all "$SRV_CPU,$GEN_CPU" "$G_PID"
			t0=$(now_s)
			# wrk runs for its -d however early its threads stop: it gets
			# SIGINT (it then reports and exits) once the IDs are in the file
			local want_ids wpid
			want_ids=$(($(wc -l <"$WORK/growth-ids.txt") + need))
			env BENCH_LUA="$LUA" BENCH_SEED_N="$need" BENCH_SEED_BASE="$have" \
				BENCH_SEED_OUT="$WORK/growth-ids.txt" taskset -c "$GEN_CPU" \
				wrk -t1 -c8 -d3600s --timeout 60s -s "$LUA/seed.lua" "$PV_URL" \
				>"$WORK/wrk-seed-$size.txt" 2>&1 &
			wpid=$!
			while kill -0 "$wpid" 2>/dev/null && [ "$(wc -l <"$WORK/growth-ids.txt")" -lt "$want_ids" ]; do
				sleep 0.2
			done
			kill -INT "$wpid" 2>/dev/null || true
			wait "$wpid" || die "seeding failed: $(tail -3 "$WORK/wrk-seed-$size.txt")"
			t1=$(now_s)
		else
			t0=0 t1=0
		fi
		# the size's snapshot: the server stopped (a clean close), the
		# directory kept; the sizes after it are seeded in a copy
		stop_pid "$G_PID"
		n=$(sqlite3 "file:$g_data/phivault.db?mode=ro" 'SELECT count(*) FROM records')
		[ "$n" -ge "$size" ] || die "growth: $n records stored, wanted $size"
		shuf -n 20000 "$WORK/growth-ids.txt" >"$WORK/growth-sample-$size.txt"
		# the database's logical size (file + WAL), the record tables and
		# their indexes per record, the audit table and indexes per entry
		sqlite3 -separator ' ' "file:$g_data/phivault.db?mode=ro" "
			SELECT (SELECT page_count FROM pragma_page_count) * (SELECT page_size FROM pragma_page_size),
			 (SELECT count(*) FROM records), (SELECT count(*) FROM audit),
			 (SELECT sum(pgsize) FROM dbstat WHERE aggregate = 1 AND name IN
			  ('records', 'sqlite_autoindex_records_1', 'record_keys', 'blind_index',
			   'blind_index_record', 'blind_index_version')),
			 (SELECT sum(pgsize) FROM dbstat WHERE aggregate = 1 AND name LIKE 'audit%')" >"$WORK/growth-db.txt"
		read -r db have na rb ab <"$WORK/growth-db.txt"
		awk -v s="$size" -v n="$n" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" \
			-v seeded="$need" -v db="$db" -v have="$have" -v na="$na" -v rb="$rb" -v ab="$ab" 'BEGIN {
			printf "%d|%d|%.1f|%.0f|%.0f|%.0f|%.0f\n", s, n, t, (t > 0 ? seeded / t : 0), db,
				rb / have, ab / na }' >>"$GROWTH"
		log "growth: $(tail -1 "$GROWTH")"
		rm -rf "$WORK/pv-growth-$size"
		if [ "$size" = "$G_LAST" ]; then
			mv "$g_data" "$WORK/pv-growth-$size"
		else
			cp -a "$g_data" "$WORK/pv-growth-$size"
			growth_serve "$g_data"
			BENCH_TOKEN=$(login_pw bench-clinician "$g_pw")
		fi
	done
	# the sizes back to back, GROWTH_ROUNDS times
	: >"$WORK/growth-resident.txt"
	for r in $(seq 1 "$GROWTH_ROUNDS"); do
		for size in $GROWTH_SIZES; do
			dir=$WORK/pv-growth-$size
			if [ "$size" != "$G_LAST" ]; then
				rm -rf "$WORK/pv-growth-run"
				cp -a "$dir" "$WORK/pv-growth-run"
				dir=$WORK/pv-growth-run
				sync "$dir"/phivault.db*   # the copy's writeback is not measured
			fi
			# read once first: this VM's balloon driver hands page cache back
			# to the host, and a database half on disk measures the disk
			# (its share in memory, from fincore, is kept for the table)
			cat "$dir"/phivault.db >/dev/null
			fincore -nb -o RES,SIZE "$dir/phivault.db" 2>/dev/null |
				awk -v s="$size" -v r="$r" '{ printf "%s %s %.0f\n", s, r, ($2 > 0 ? 100 * $1 / $2 : 0) }' \
				>>"$WORK/growth-resident.txt" || true
			growth_serve "$dir"
			BENCH_TOKEN=$(login_pw bench-clinician "$g_pw")
			wait_idle "$G_PID"
			BENCH_IDS=$WORK/growth-sample-$size.txt run_wrk "read-$size-r$r" 32 "$PV_URL" read.lua "$G_PID"
			run_wrk "create-$size-r$r" 8 "$PV_URL" create.lua "$G_PID"
			stop_pid "$G_PID"
		done
	done
	for size in $GROWTH_SIZES; do
		row_median "read-$size"
		row_median "create-$size"
	done
	rm -rf "$WORK/pv-growth-run"
	PV_URL=$url_save PV_CA=$ca_save BENCH_TOKEN=$token_save BENCH_IDS=$ids_save
}

# ---------------------------------------------------------------- nginx
nginx_start() {
	NG=$WORK/nginx
	NG_PORT=$(free_port)
	cat >"$NG/nginx.conf" <<-EOF
	# 1 worker (pinned to CPU $SRV_CPU by taskset), the same certificate and TLS
	# versions as phivault, keep-alive without a request limit, no access log.
	worker_processes 1;
	daemon off;
	pid $NG/nginx.pid;
	error_log $NG/logs/error.log warn;
	events { worker_connections 1024; }
	http {
	  access_log off;
	  default_type application/json;
	  sendfile on;
	  keepalive_requests 10000000;
	  keepalive_timeout 300s;
	  client_body_temp_path $NG/tmp;
	  proxy_temp_path $NG/tmp;
	  fastcgi_temp_path $NG/tmp;
	  uwsgi_temp_path $NG/tmp;
	  scgi_temp_path $NG/tmp;
	  server {
	    listen 127.0.0.1:$NG_PORT ssl;
	    ssl_certificate $PV_DATA/tls/cert.pem;
	    ssl_certificate_key $PV_DATA/tls/key.pem;
	    ssl_protocols TLSv1.2 TLSv1.3;
	    root $NG/html;
	  }
	}
	EOF
	mkdir -p "$NG/tmp"
	taskset -c "$SRV_CPU" nginx -c "$NG/nginx.conf" -p "$NG" >"$NG/logs/stderr.log" 2>&1 &
	NG_PID=$!
	STARTED+=("$NG_PID")
	wait_https "https://127.0.0.1:$NG_PORT/health.json" "$NG_PID" ||
		die "nginx did not come up: $(cat "$NG/logs/error.log" "$NG/logs/stderr.log" 2>/dev/null | tail -5)"
	cmp -s <(curl -s --cacert "$PV_CA" "https://127.0.0.1:$NG_PORT/record.json") "$NG/html/record.json" ||
		die "nginx does not serve the read response bytes"
	log "nginx pid $NG_PID on port $NG_PORT (CPU $SRV_CPU)"
}

# ---------------------------------------------------------------- PostgreSQL
postgres_start() {
	PG=$WORK/pg
	PG_PORT=$(free_port)
	mkdir -p "$PG/data" "$PG/sock"
	chown -R postgres:postgres "$PG"
	chmod 755 "$WORK" "$RESULTS" "$ROOT/bench" 2>/dev/null || true
	runuser -u postgres -- "$PGBIN/initdb" -D "$PG/data" -A trust -U postgres >"$WORK/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -3 "$WORK/initdb.log")"
	# postgres forks its own children: start it in the background, pinned, and
	# take the postmaster PID from postmaster.pid.
	taskset -c "$SRV_CPU" runuser -u postgres -- "$PGBIN/postgres" -D "$PG/data" -p "$PG_PORT" \
		-k "$PG/sock" -c listen_addresses=127.0.0.1 -c shared_buffers=128MB \
		>"$WORK/postgres.log" 2>&1 &
	for i in $(seq 1 100); do
		[ -s "$PG/data/postmaster.pid" ] && PG_PID=$(head -1 "$PG/data/postmaster.pid") && break
		sleep 0.1
	done
	[ -n "${PG_PID:-}" ] || die "postgres did not start: $(tail -5 "$WORK/postgres.log")"
	for i in $(seq 1 100); do
		"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
		sleep 0.1
	done
	log "postgres pid $PG_PID on port $PG_PORT (CPU $SRV_CPU)"
	PSQL=(runuser -u postgres -- env PGOPTIONS='-c client_min_messages=warning' psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
	"${PSQL[@]}" -f - <bench/pg/schema.sql >/dev/null
	# seed as many rows as phivault had records
	for i in $(seq 1 "$SEED_RECORDS"); do cat bench/pg/insert.sql; done |
		sed "s/:n/$RANDOM/g; /^\\\\set/d" | "${PSQL[@]}" -f - >/dev/null
	cp bench/pg/insert.sql bench/pg/select.sql "$PG/"
	chown postgres:postgres "$PG"/*.sql
}

# ---------------------------------------------------------------- Argon2id alone
argon2_alone() {
	taskset -c "$SRV_CPU" "$WORK/argon2_alone" -t "$A2_OPS" -m "$A2_MEM" -j 2 -d "$SECS" \
		>"$WORK/argon2.txt" || die "argon2_alone failed"
	awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END { printf "argon2id|2|%.1f|%.2f|%.2f|%d|0|0\n", v["rate"], v["p50_ms"], v["p99_ms"], v["errors"] }' \
		"$WORK/argon2.txt" >>"$ROWS"
	log "$(tail -1 "$ROWS")"
}

# run_pgbench NAME SCRIPT CLIENTS
run_pgbench() {
	local name=$1 script=$2 clients=$3 out=$PG/pgbench-$1.txt
	rm -f "$PG"/pgbench_log.*
	cd "$PG"   # pgbench -l writes its per-transaction log here
	run_sampled "$PG_PORT" "$out" taskset -c "$GEN_CPU" runuser -u postgres -- \
		"$PGBIN/pgbench" -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "$clients" -j 1 \
		-T "$SECS" -D rows="$SEED_RECORDS" -l -f "$PG/$script" postgres ||
		die "pgbench $name failed: $(tail -5 "$out")"
	cd "$ROOT"
	local tps failed
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	# per-transaction log: client_id tx_no latency_us script_no epoch us
	sort -n -k3,3 "$PG"/pgbench_log.* | awk -v name="$name" -v c="$clients" -v tps="$tps" \
		-v failed="${failed:-0}" -v reconn="$RECONN" '{ l[NR] = $3 } END {
		p50 = l[int((NR - 1) * 0.50) + 1]; p99 = l[int((NR - 1) * 0.99) + 1]
		printf "%s|%d|%.1f|%.2f|%.2f|%d|%d|0\n", name, c, tps, p50 / 1000, p99 / 1000, failed, reconn }' >>"$ROWS"
	log "$(tail -1 "$ROWS")"
}

# ---------------------------------------------------------------- profiles
# --profile: perf record (DWARF call graphs) of phivault during a workload,
# reported as inclusive shares per function (bench/results/profile-NAME.txt).
# Sampling costs the server CPU, so a profiled run's numbers are lower.
profile_start() {
	[ "$PROFILE" = 1 ] || return 0
	command -v perf >/dev/null || { log "perf not found (apt-get install linux-perf)"; return 0; }
	taskset -c "$GEN_CPU" perf record -F 999 --call-graph dwarf,32768 -o "$WORK/perf-$1.data" \
		-p "$PV_PID" -- sleep "$SECS" >/dev/null 2>&1 &
	PERF_PID=$!
}
profile_stop() {
	[ -n "${PERF_PID:-}" ] || return 0
	wait "$PERF_PID" || true
	PERF_PID=
	{
		echo "# perf profile of phivault serve during the $1 workload ($MODE run)"
		echo "# children = share of all samples with the function on the stack"
		taskset -c "$GEN_CPU" perf report -i "$WORK/perf-$1.data" --children --sort sym \
			--stdio -g none --percent-limit 0.5 2>/dev/null | grep -E '^ +[0-9]' |
			grep -v -E '\[k\]|0x0000' | head -80 || true
		echo
		echo "# kernel (top entries)"
		taskset -c "$GEN_CPU" perf report -i "$WORK/perf-$1.data" --no-children --sort sym \
			--stdio -g none --percent-limit 1 2>/dev/null | grep -E '^ +[0-9].*\[k\]' | head -20 || true
	} >"$RESULTS/profile-$1.txt"
	log "profile of the $1 workload: bench/results/profile-$1.txt"
}

# ================================================================ main
deps_install
command -v wrk >/dev/null || die "wrk is not installed"
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/postgres" ] || die "PostgreSQL 15 is not installed ($PGBIN)"
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; server and load generator share one"

if [ ! -x "$BIN" ] || [ ! -x "$BUILD_DIR/phivault-test" ]; then
	log "building phivault (release, -O2) in $BUILD_DIR"
	cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD_DIR" -j "$(nproc)" --target phivault phivault-test >/dev/null
fi
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
SANITIZED=$(sed -n 's/^SANITIZE:BOOL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
case "$BUILD_TYPE" in
RelWithDebInfo | Release) ;;
*) die "$BUILD_DIR is a '$BUILD_TYPE' build; the benchmark needs a release build (make build)" ;;
esac
[ "$SANITIZED" = ON ] && die "$BUILD_DIR is a sanitizer build; use a release build"

rm -rf "$WORK"
mkdir -p "$WORK"
: >"$ROWS"

log "building the load tools"
cc -O2 -Wall -o "$WORK/loginload" bench/loginload.c -lcurl -ljansson -lcrypto -lpthread
cc -O2 -Wall -o "$WORK/argon2_alone" bench/argon2_alone.c -lsodium -lpthread
cc -O2 -Wall -o "$WORK/floor" bench/floor.c -lsqlite3 -ljansson -lcrypto

# ---------------------------------------------------------------- phivault
PV_DATA=$WORK/pv
PV_PORT=$(free_port)
PV_URL=https://127.0.0.1:$PV_PORT
PV_CA=$PV_DATA/tls/cert.pem
"$BIN" init --json --data "$PV_DATA" >"$WORK/init.json" 2>"$WORK/init.log" ||
	die "phivault init failed: $(tail -3 "$WORK/init.log")"
ADMIN_OTP=$(jq -r .admin_password "$WORK/init.json")
PV_CONF=$PV_DATA/phivault.conf
conf_set "$PV_CONF" listen "127.0.0.1:$PV_PORT"
# serve --dev with MFA off for the record workloads (dev relaxes nothing
# about encryption or audit); the login workload's users enrol TOTP, so
# their logins are password + TOTP all the same.
conf_set "$PV_CONF" mfa_required off
[ -n "${BENCH_THREADS:-}" ] && conf_set "$PV_CONF" threads "$BENCH_THREADS"
A2_OPS=$(sed -n 's/^argon2_opslimit = //p' "$PV_CONF")
A2_MEM=$(sed -n 's/^argon2_memlimit_kib = //p' "$PV_CONF")
PV_THREADS=$(sed -n 's/^threads = //p' "$PV_CONF")

mkdir -p "$WORK/nginx/html" "$WORK/nginx/logs"
PV_HWM=0
PV_RSS=0
S_RSS=0
S_RSS0=0
S_HWM=0
S_MADE=0
READ_BYTES=0
NOTES=""
if [ "$ONLY" = all ]; then
	phivault_setup
else
	# baselines only: stand-in bytes for what phivault would serve
	printf '{"status":"ok","sealed":false,"version":"0.0.0","node":"bench"}' >"$WORK/nginx/html/health.json"
	printf '{"id":"rec_0000000000000000000000","version":1,"fields":%s}' \
		"$(awk -v n=1 'BEGIN{printf "{\"name\":\"x\",\"notes\":\"%s\"}", sprintf("%1000s", "")}')" \
		>"$WORK/nginx/html/record.json"
	READ_BYTES=$(wc -c <"$WORK/nginx/html/record.json")
fi
nginx_start
postgres_start
sleep 1

# Each workload runs next to its baseline, so that both see the same
# machine (other load on it shows in both, not in one).
NG_URL=https://127.0.0.1:$NG_PORT
log "workloads, ${SECS}s each"
[ "$ONLY" = all ] && run_wrk health 32 "$PV_URL" static.lua "$PV_PID" BENCH_PATH=/v1/sys/health
run_wrk nginx-health 32 "$NG_URL" static.lua - BENCH_PATH=/health.json
if [ "$ONLY" = all ]; then
	profile_start read
	run_wrk read 32 "$PV_URL" read.lua "$PV_PID"
	profile_stop read
fi
run_wrk nginx-record 32 "$NG_URL" static.lua - BENCH_PATH=/record.json
if [ "$ONLY" = all ]; then
	run_wrk search 32 "$PV_URL" search.lua "$PV_PID"
	run_wrk batch 8 "$PV_URL" batch.lua "$PV_PID" BENCH_BATCH=10
fi
run_pgbench pg-select select.sql 8
if [ "$ONLY" = all ]; then
	profile_start create
	run_wrk create 8 "$PV_URL" create.lua "$PV_PID"
	profile_stop create
fi
run_pgbench pg-insert insert.sql 8
[ "$ONLY" = all ] && phivault_login
argon2_alone

if [ "$ONLY" = all ]; then
	PV_RSS=$(rss_kib "$PV_PID" VmRSS)
	stop_pid "$PV_PID"
	phivault_floor
	[ -n "${BENCH_BEFORE:-}" ] && phivault_compare
	phivault_churn
	. "$ROOT/bench/monitoring.sh"   # monitoring on vs off: bench/results/monitoring.md
	[ -n "$GROWTH_SIZES" ] && phivault_growth
fi
stop_pid "$NG_PID"
stop_pid "$PG_PID" INT
PG_PID=
[ "$ONLY" = all ] && sessions_rss

# ---------------------------------------------------------------- report
ratio() { # rps baseline-rps
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'
}
PV_HWM=$(awk -F'|' 'BEGIN { m = 0 } $8 > m { m = $8 } END { print m }' "$ROWS")
TABLE=$WORK/table.md
{
	echo "| workload | conns | requests/s | p50 ms | p99 ms | errors | reconnects | server CPU µs/request | baseline | ratio | phivault peak RSS |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
	while IFS='|' read -r name conns rps p50 p99 err opened rss cpu; do
		case "$name" in
		health) base=nginx-health ;;
		read) base=nginx-record ;;
		search | batch) base=pg-select ;;
		create) base=pg-insert ;;
		login) base=argon2id ;;
		*) base= ;;
		esac
		label=$name
		case "$name" in
		health) label="phivault health" ;;
		read) label="phivault record read (audited, ${READ_BYTES} B)" ;;
		search) label="phivault blind-index search" ;;
		batch) label="phivault batch read (10/request)" ;;
		create) label="phivault record create" ;;
		login) label="phivault login (password + TOTP)" ;;
		nginx-health) label="nginx static, health bytes" ;;
		nginx-record) label="nginx static, read-response bytes" ;;
		pg-insert) label="PostgreSQL pgp_sym_encrypt INSERT" ;;
		pg-select) label="PostgreSQL pgp_sym_decrypt SELECT" ;;
		argon2id) label="Argon2id verify alone (t=$A2_OPS, m=$A2_MEM KiB)" ;;
		esac
		if [ -n "$base" ]; then
			brps=$(row_get "$base" 3)
			r=$(ratio "$rps" "$brps")
			[ "$name" = batch ] && r="$(ratio "$(awk -v a="$rps" 'BEGIN{print a*10}')" "$brps") (records)"
			rs=$(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')
		else
			r="—"
			base="—"
			rs="—"
		fi
		echo "| $label | $conns | $rps | $p50 | $p99 | $err | $opened | ${cpu:-—} | $base | $r | $rs |"
	done < <(for n in health read search batch create login nginx-health nginx-record pg-select pg-insert argon2id; do
		grep "^$n|" "$ROWS" || true
	done)
} >"$TABLE"

target() { # description ok(1/0) detail
	printf '| %s | %s | %s |\n' "$1" "$([ "$2" = 1 ] && echo met || echo MISSED)" "$3"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
R_READ=$(ratio "$(row_get read 3)" "$(row_get nginx-record 3)")
R_CREATE=$(ratio "$(row_get create 3)" "$(row_get pg-insert 3)")
R_LOGIN=$(ratio "$(row_get login 3)" "$(row_get argon2id 3)")
P99_READ=$(row_get read 5)
E_READ=$(row_get read 6)
S_MIB=$(awk -v k="$S_RSS" 'BEGIN { printf "%.1f", k / 1024 }')
S_HWM_MIB=$(awk -v k="$S_HWM" 'BEGIN { printf "%.1f", k / 1024 }')
KEEPALIVE_OK=1
KEEPALIVE_DETAIL=""
while IFS='|' read -r name conns rps p50 p99 err opened rss cpu; do
	case "$name" in pg-* | argon2id | login) continue ;; esac
	if [ "$opened" -gt 0 ]; then
		KEEPALIVE_OK=0
		KEEPALIVE_DETAIL="$KEEPALIVE_DETAIL $name: $opened reconnects;"
	fi
done <"$ROWS"
[ -z "$KEEPALIVE_DETAIL" ] && KEEPALIVE_DETAIL="no wrk connection was replaced during any run"
COMPARE=$WORK/compare.md
if [ -n "$(row_get read-before 3)" ]; then
	{
		echo "| binary | server threads | read req/s | read p99 ms | read CPU µs/req | create req/s | create p99 ms | create CPU µs/req |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		for k in before after pool; do
			[ -n "$(row_get "read-$k" 3)" ] || continue
			case $k in
			before) b="before: $BENCH_BEFORE"; t=${PV_THREADS:-0} ;;
			after) b="after: $BIN"; t=${PV_THREADS:-0} ;;
			pool) b="after, epoll pool"; t=$BENCH_POOL ;;
			esac
			echo "| $b | $t | $(row_get "read-$k" 3) | $(row_get "read-$k" 5) | $(row_get "read-$k" 9) | $(row_get "create-$k" 3) | $(row_get "create-$k" 5) | $(row_get "create-$k" 9) |"
		done
		echo
		echo "after / before (one right after the other, same data): read $(ratio "$(row_get read-after 3)" "$(row_get read-before 3)")x the rate at $(ratio "$(row_get read-after 9)" "$(row_get read-before 9)")x the CPU a request, create $(ratio "$(row_get create-after 3)" "$(row_get create-before 3)")x the rate at $(ratio "$(row_get create-after 9)" "$(row_get create-before 9)")x the CPU a request."
	} >"$COMPARE"
fi
CHURN=$WORK/churn.md
P99_IDLE=$(row_get read-idle 5)
P99_CHURN=$(row_get read-churn 5)
R_CHURN=$(awk -v a="$P99_CHURN" -v b="$P99_IDLE" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }')
if [ -n "$P99_IDLE" ]; then
	{
		echo "| workload (phivault-test, same data) | conns | requests/s | p50 ms | p99 ms | errors | server CPU µs/request | job steps/s |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		echo "| record read, no job | 32 | $(row_get read-idle 3) | $(row_get read-idle 4) | $P99_IDLE | $(row_get read-idle 6) | $(row_get read-idle 9) | 0 (job alone: $CHURN_ALONE) |"
		echo "| record read, test.count job at full speed | 32 | $(row_get read-churn 3) | $(row_get read-churn 4) | $P99_CHURN | $(row_get read-churn 6) | $(row_get read-churn 9) | $CHURN_LOADED |"
		echo
		echo "p99 with the job / p99 without: ${R_CHURN}x (target <= 2x)."
	} >"$CHURN"
fi
GROWTHMD=$WORK/growth.md
if [ -n "$GROWTH_SIZES" ] && [ -s "$GROWTH" ]; then
	{
		echo "| records stored | seeding s (records/s) | read req/s | read p99 ms | read CPU µs/req | create req/s | create p99 ms | create CPU µs/req | read x $G_FIRST | create x $G_FIRST | DB MiB | record bytes/record | audit bytes/entry |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		while IFS='|' read -r size n secs rate db rb ab; do
			echo "| $size | $secs ($rate) | $(row_get "read-$size" 3) | $(row_get "read-$size" 5) | $(row_get "read-$size" 9) | $(row_get "create-$size" 3) | $(row_get "create-$size" 5) | $(row_get "create-$size" 9) | $(ratio "$(row_get "read-$size" 3)" "$(row_get "read-$G_FIRST" 3)") | $(ratio "$(row_get "create-$size" 3)" "$(row_get "create-$G_FIRST" 3)") | $(awk -v b="$db" 'BEGIN { printf "%.0f", b / 1048576 }') | $rb | $ab |"
		done <"$GROWTH"
		echo
		echo "Seeding: records:batch, 100 records a request, 8 connections, server on both CPUs. Then each size measured $GROWTH_ROUNDS times, the sizes interleaved, each time a fresh server on that size's snapshot, its database file read into memory first, pinned and idle; a row is the median of its rounds (each column on its own). Reads over a random sample of 20,000 of the IDs stored at that size; creates as in the create workload. \"record bytes\": the records table, its primary key, its key rows (record_keys) and the blind-index structures per stored record; \"audit bytes\": the audit table and its indexes per entry (every read and write adds one)."
		echo
		echo "The rounds (requests/s, server CPU µs a request):"
		echo
		for size in $GROWTH_SIZES; do
			printf -- '- %s records: read' "$size"
			for r in $(seq 1 "$GROWTH_ROUNDS"); do printf ' %s (%s µs)' "$(row_get "read-$size-r$r" 3)" "$(row_get "read-$size-r$r" 9)"; done
			printf '; create'
			for r in $(seq 1 "$GROWTH_ROUNDS"); do printf ' %s (%s µs)' "$(row_get "create-$size-r$r" 3)" "$(row_get "create-$size-r$r" 9)"; done
			printf '; the database in memory at each start:'
			for r in $(seq 1 "$GROWTH_ROUNDS"); do
				printf ' %s%%' "$(awk -v s="$size" -v r="$r" '$1 == s && $2 == r { print $3 }' "$WORK/growth-resident.txt")"
			done
			echo
		done
	} >"$GROWTHMD"
fi
FLOORMD=$WORK/floor.md
if [ -s "$WORK/floor.txt" ]; then
	NG_CPU=$(row_get nginx-record 9)
	PG_RPS=$(row_get pg-insert 3)
	{
		echo "| part (alone, pinned to CPU $SRV_CPU) | read µs | create µs |"
		echo "|---|---:|---:|"
		echo "| TLS + HTTP for the same bytes: nginx's CPU a request (nginx-record row) | $NG_CPU | $NG_CPU |"
		echo "| SQLite: the record's row fetched in a read transaction | $(floor_get read.fetch) | — |"
		echo "| AES-256-GCM: the DEK unwrapped, ~1 KiB opened / a DEK made, sealed, wrapped, an HMAC a blind index | $(floor_get read.open) | $(floor_get create.seal) |"
		echo "| jansson: the plaintext parsed and the answer written / the fields parsed | $(floor_get read.json) | $(floor_get create.json) |"
		echo "| SHA-256 of the entry (the chain) | $(floor_get audit.hash) | $(floor_get audit.hash) |"
		echo "| SQLite, durable: the audit entry appended, groups of 32, synchronous=FULL / the record's rows and its entry, groups of 8 | $(floor_get read.audit_append) | $(floor_get create.rows_append) |"
		FR=$(awk -v a="$NG_CPU" -v b="$(floor_get read.fetch)" -v c="$(floor_get read.open)" -v d="$(floor_get read.json)" \
			-v e="$(floor_get audit.hash)" -v f="$(floor_get read.audit_append)" 'BEGIN { printf "%.1f", a + b + c + d + e + f }')
		FC=$(awk -v a="$NG_CPU" -v c="$(floor_get create.seal)" -v d="$(floor_get create.json)" \
			-v e="$(floor_get audit.hash)" -v f="$(floor_get create.rows_append)" 'BEGIN { printf "%.1f", a + c + d + e + f }')
		BR=$(awk -v a="$NG_CPU" 'BEGIN { printf "%.1f", 2 * a }')
		BC=$(awk -v r="$PG_RPS" 'BEGIN { if (r > 0) printf "%.1f", 1e6 / (5 * r); else printf "n/a" }')
		echo "| **floor: the sum** | **$FR** | **$FC** |"
		echo "| the target's budget on one server CPU (read: 0.5x nginx = 2 x nginx's CPU; create: 5x PostgreSQL's $PG_RPS INSERTs/s) | $BR | $BC |"
		echo "| phivault's server CPU a request in this run | $(row_get read 9) | $(row_get create 9) |"
		echo
		echo "Each part runs alone on a copy of this run's database (bench/floor.c), so the tables, indexes, triggers and row sizes are phivault's. The floor leaves out everything else a request does (HTTP routing, the session, the decision, the audit entry's JSON, thread handoffs), so it is a lower bound for this design. When the floor is above the budget, the target cannot be met without changing what the design fixes: a durable audit entry in SQLite for every read, records stored as JSON, TLS."
	} >"$FLOORMD"
fi
TARGETS=$WORK/targets.md
{
	echo "| target | result | measured |"
	echo "|---|---|---|"
	ok=0; ge "$R_READ" 0.5 && ok=1
	target "record read >= 0.5x nginx, same bytes" "$ok" "${R_READ}x"
	ok=0; le "$P99_READ" 5 && ok=1
	target "record read p99 <= 5 ms at 32 connections" "$ok" "$P99_READ ms"
	ok=0; [ "$E_READ" = 0 ] && ok=1
	target "record read: zero errors" "$ok" "$E_READ"
	ok=0; ge "$R_CREATE" 5 && ok=1
	target "record create >= 5x PostgreSQL+pgcrypto INSERT (8 conns)" "$ok" "${R_CREATE}x"
	ok=0; ge "$R_LOGIN" 0.8 && ok=1
	target "login >= 0.8x Argon2id alone" "$ok" "${R_LOGIN}x"
	ok=0; [ "${S_MADE:-0}" -ge "$SESSIONS" ] && le "$S_MIB" 64 && ok=1
	target "phivault RSS <= 64 MiB with $SESSIONS live sessions" "$ok" \
		"${S_MIB} MiB with ${S_MADE:-0} sessions ($((S_RSS0 / 1024)) MiB before them; peak ${S_HWM_MIB} MiB while logging in)"
	target "keep-alive: no reconnects" "$KEEPALIVE_OK" "$KEEPALIVE_DETAIL"
	if [ -n "$P99_IDLE" ]; then
		ok=0; le "$R_CHURN" 2 && ok=1
		target "read p99 with a job churning <= 2x idle p99" "$ok" "${R_CHURN}x ($P99_CHURN ms / $P99_IDLE ms)"
	fi
	if [ -n "$GROWTH_SIZES" ] && [ -s "$GROWTH" ]; then
		gr=$(ratio "$(row_get "read-$G_LAST" 3)" "$(row_get "read-$G_FIRST" 3)")
		gc=$(ratio "$(row_get "create-$G_LAST" 3)" "$(row_get "create-$G_FIRST" 3)")
		if [ "$G_LAST" = 1000000 ] && [ "$G_FIRST" = 10000 ]; then
			ok=0; ge "$gr" 0.8 && ge "$gc" 0.8 && ok=1
			target "at 1M records >= 0.8x the 10k read and create rates" "$ok" \
				"read ${gr}x, create ${gc}x"
		else
			printf '| %s | %s | %s |\n' "at 1M records >= 0.8x the 10k read and create rates" \
				"not measured" "sizes $GROWTH_SIZES: at $G_LAST vs $G_FIRST read ${gr}x, create ${gc}x"
		fi
	fi
} >"$TARGETS"

NOTES+="$(BUILD="$BUILD" "$ROOT/bench/reencrypt.sh" || echo "- bench/reencrypt.sh failed")"$'\n'   # issue 11: re-encryption rate
NOTES+="$(BUILD="$BUILD" "$ROOT/bench/backup.sh" || echo "- bench/backup.sh failed")"$'\n'   # issue 12: backup vs sqlite3 .backup + openssl
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
	echo "# phivault benchmark ($MODE run)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/run.sh$([ "$QUICK" = 1 ] && echo ' --quick')\`, ${SECS} s per workload."
	echo
	echo "## Results"
	echo
	cat "$TABLE"
	echo
	echo "Servers pinned to CPU $SRV_CPU, load generators (wrk -t1, pgbench -j1, loginload) to CPU $GEN_CPU;"
	echo "loopback, TLS (same P-256 certificate for phivault and nginx), keep-alive. \"reconnects\": wrk"
	echo "connections replaced between 1 s into the run and 1 s before its end (0: keep-alive held). Peak RSS is"
	echo "VmHWM of phivault serve during that workload (reset before each). Batch ratio compares records/s."
	echo "\"server CPU µs/request\": user + system CPU time of the server process (every thread; nginx: its"
	echo "worker) during the run, divided by the requests answered: less sensitive than the rates to other load."
	echo
	if [ -n "$NOTES" ]; then
		printf '%s\n' "$NOTES"
	fi
	if [ -s "$COMPARE" ]; then
		echo "## Before and after (BENCH_BEFORE)"
		echo
		cat "$COMPARE"
		echo
	fi
	if [ -s "$FLOORMD" ]; then
		echo "## The floor: the parts of a read and a create alone (bench/floor.c)"
		echo
		cat "$FLOORMD"
		echo
	fi
	if [ -s "$CHURN" ]; then
		echo "## Read while a job churns the store"
		echo
		cat "$CHURN"
		echo
	fi
	if [ -s "$GROWTHMD" ]; then
		echo "## Growth: rates with more records stored"
		echo
		cat "$GROWTHMD"
		echo
	fi
	echo "## Targets"
	echo
	cat "$TARGETS"
	echo
	echo "## Machine"
	echo
	echo "- $(uname -srmo)"
	echo "- CPU: $CPU, $(nproc) CPUs; memory $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "- $(nginx -v 2>&1 | head -1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $("$PGBIN/postgres" --version)"
	echo "- $("$BIN" version 2>/dev/null | head -1) ($BUILD_TYPE build in $BUILD); server threads: ${PV_THREADS} (0 = a thread per connection); Argon2id t=$A2_OPS m=$A2_MEM KiB"
	echo "- OpenSSL $(openssl version | cut -d' ' -f2), GnuTLS $(dpkg-query -W -f='${Version}' libgnutls30 2>/dev/null), libmicrohttpd $(dpkg-query -W -f='${Version}' libmicrohttpd12 2>/dev/null)"
	echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- phivault serve after all workloads: RSS $((PV_RSS / 1024)) MiB; highest per-workload peak $((PV_HWM / 1024)) MiB"
} >"$RESULTS/latest.md"

echo
cat "$TABLE"
echo
[ -s "$COMPARE" ] && { cat "$COMPARE"; echo; }
[ -s "$FLOORMD" ] && { cat "$FLOORMD"; echo; }
[ -s "$CHURN" ] && { cat "$CHURN"; echo; }
[ -s "$GROWTHMD" ] && { cat "$GROWTHMD"; echo; }
cat "$TARGETS"
echo
log "written to bench/results/latest.md"
