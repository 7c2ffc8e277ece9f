# bench/lib.sh: the helpers bench/run.sh and bench/postgres.sh share. Sourced;
# the caller sets BENCH_NAME (the prefix of its messages), BENCH_PACKAGES
# (and BENCH_EXTRA_PACKAGES), WORK, and the PV_* variables api() uses.

log() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() {
	printf '%s: %s\n' "$BENCH_NAME" "$*" >&2
	exit 1
}

# api METHOD PATH TOKEN [BODY]: JSON request to phivault; body on stdout,
# status in $WORK/status.
api() {
	local method=$1 path=$2 token=$3 body=${4:-}
	local args=(-s -o "$WORK/api.out" -w '%{http_code}' --cacert "$PV_CA" -X "$method"
		-H 'Content-Type: application/json' -H 'X-Purpose-Of-Use: TREAT')
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	[ -n "$body" ] && args+=(--data-binary "$body")
	curl "${args[@]}" "$PV_URL$path" >"$WORK/status" || echo 000 >"$WORK/status"
	cat "$WORK/api.out"
}

api_status() { cat "$WORK/status"; }

api_expect() { # method path token body expected-status... ; prints the body
	local out st
	out=$(api "$1" "$2" "$3" "${4:-}")
	st=$(api_status)
	shift 4
	local ok=0 e
	for e in "$@"; do [ "$st" = "$e" ] && ok=1; done
	[ "$ok" = 1 ] || die "$st from the API (expected $*): $(head -c 300 <<<"$out")"
	printf '%s' "$out"
}

# Dual control: a user created with a PHI role (clinician) holds it once a
# security officer approves. body admin-token data-dir -> the user's
# one-time password; the officer (bench-officer) is made with the data
# directory's key file (the seal's authority) and approves.
approved_user() {
	local out otp apr key off
	out=$(api_expect POST /v1/users "$2" "$1" 201 202)
	otp=$(jq -r .one_time_password <<<"$out")
	apr=$(jq -r '.approval // empty' <<<"$out")
	if [ -n "$apr" ]; then
		key=$(cat "$3/unseal.key")
		off=$(api_expect POST /v1/sys/officers "$2" \
			"$(jq -nc --arg k "$key" '{username:"bench-officer",key_file:$k}')" 201 |
			jq -r .one_time_password)
		first_login bench-officer "$off"
		api_expect POST "/v1/approvals/$apr/approve" "$FL_TOKEN" '{"note":"bench"}' 200 >/dev/null
	fi
	printf '%s' "$otp"
}

free_port() {
	local p
	for p in $(shuf -i 20000-60999 -n 200); do
		if ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

login_pw() { # user password -> token
	api_expect POST /v1/auth/login "" "$(jq -nc --arg u "$1" --arg p "$2" '{username:$u,password:$p}')" 200 |
		jq -r .token
}

# pin_all CPUS PID: every thread of PID to CPUS. taskset -a stops at a
# thread that ended while it walked them (a connection's thread), so retry.
pin_all() {
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		taskset -a -p -c "$1" "$2" >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || die "pid $2 is gone"
		sleep 0.1
	done
	die "cannot pin pid $2 to CPUs $1"
}

# user one-time-password -> FL_TOKEN, with the password changed to NEWPW
# (a new NEWPW if the policy's cracklib check refuses the random one)
first_login() {
	local tok i
	tok=$(login_pw "$1" "$2")
	for i in 1 2 3 4 5; do
		api "POST" /v1/auth/password "$tok" \
			"$(jq -nc --arg o "$2" --arg n "$NEWPW" '{current_password:$o,new_password:$n}')" >/dev/null
		[ "$(api_status)" != 400 ] && break
		NEWPW="$(head -c 15 /dev/urandom | base64 | tr '+/' '-_')"
	done
	case "$(api_status)" in 200 | 204) ;; *) die "password change for $1: $(api_status) $(cat "$WORK/api.out")" ;; esac
	FL_TOKEN=$(login_pw "$1" "$NEWPW")
}

wait_https() { # url pid
	local i
	for i in $(seq 1 100); do
		kill -0 "$2" 2>/dev/null || return 1
		curl -sk -o /dev/null "$1" && return 0
		sleep 0.1
	done
	return 1
}

stop_pid() { # pid [signal]
	local pid=$1 sig=${2:-TERM} i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "pid $pid did not stop on SIG$sig; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# conf_set FILE KEY VALUE [SECTION]: set an existing "key = value" line, the
# first one (in SECTION when given)
conf_set() {
	local f=$1 k=$2 v=$3 sec=${4:-}
	if [ -n "$sec" ]; then
		awk -v s="[$sec]" -v k="$k" 'BEGIN { e = 1 } $0 == s { in_s = 1; next }
			/^\[/ { in_s = 0 } in_s && index($0, k " = ") == 1 { e = 0 } END { exit e }' "$f" ||
			die "config key $sec.$k not found in $f"
		awk -v s="[$sec]" -v k="$k" -v v="$v" '$0 == s { in_s = 1; print; next }
			/^\[/ { in_s = 0 } in_s && index($0, k " = ") == 1 { print k " = " v; next } { print }' \
			"$f" >"$f.new" && mv "$f.new" "$f"
		return 0
	fi
	grep -q "^$k = " "$f" || die "config key $k not found in $f"
	sed -i "0,/^$k = /s|^$k = .*|$k = $v|" "$f"
}

deps_install() {
	local missing="" p made_policy=0
	for p in $BENCH_PACKAGES ${BENCH_EXTRA_PACKAGES:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)"
	log "installing$missing"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# %s: no service starts during its install\nexit 101\n' "$BENCH_NAME" \
			>/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
		die "apt-get install failed"
	}
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	return 0
}
