# bench/monitoring.sh: read throughput with monitoring on vs off (issue 13,
# "Performance"; docs/performance.md "Monitoring on vs off").
#
# Sourced by bench/run.sh (one line, after the churn workload, with the first
# phivault stopped): it uses run.sh's helpers (run_wrk, stop_pid, STARTED,
# login_pw, ...) and the first phivault's data directory ($PV_DATA). The same
# audited read workload as the "read" row (read.lua, 32 connections), on the
# same data, four times:
#
#   mon-off     [detect] enabled = off, no sink
#   mon-on      detectors on, syslog to a real rsyslog this script starts on
#               loopback (pinned to the generator CPU, like a SIEM elsewhere)
#               plus the OCSF file; started after the sinks caught up with the
#               trail's backlog, so the run measures steady state
#   mon-down    the same server, rsyslog stopped (by its PID) before the run:
#               the syslog sink fails, backs off and lags
#   mon-detect  detectors only, no sink
#   mon-sinks   sinks only (rsyslog restarted, caught up first), detectors off
#   mon-off2    off again: the spread of the two off runs is the noise
#
# Writes bench/results/monitoring.md (the rows in run.sh's table format, the
# ratios against the mean of the two off runs, targets >= 0.95x) and prints
# it. QUICK=1 / --quick: SECS from run.sh (5 s). Every process it starts is
# in STARTED, so run.sh's exit trap stops it by its PID.

RSYSLOG_MODDIR=${RSYSLOG_MODDIR:-/usr/lib/x86_64-linux-gnu/rsyslog}

# mon_conf_set SECTION KEY VALUE: set KEY in [SECTION] of $PV_CONF (a
# commented "# KEY = ..." line or an existing one; else added after the
# section header). Keys such as "enabled" exist in several sections.
mon_conf_set() {
	awk -v sec="[$1]" -v key="$2" -v val="$3" '
	/^\[/ { if (in_s && !done) { print key " = " val; done = 1 } in_s = ($0 == sec) }
	in_s && !done && ($0 ~ "^" key " *=" || $0 ~ "^# " key " *=") { print key " = " val; done = 1; next }
	{ print }
	END { if (in_s && !done) print key " = " val }' "$PV_CONF" >"$PV_CONF.new" &&
		cat "$PV_CONF.new" >"$PV_CONF" && rm -f "$PV_CONF.new"
}

mon_rsyslog_start() {
	MON_RS_PORT=$(free_port)
	mkdir -p "$WORK/rsyslog.work"
	: >"$WORK/rsyslog.out"
	cat >"$WORK/rsyslog.conf" <<EOF
global(workDirectory="$WORK/rsyslog.work")
module(load="imtcp")
template(name="phivault" type="string" string="%protocol-version% %rawmsg%\n")
input(type="imtcp" address="127.0.0.1" port="$MON_RS_PORT" ruleset="phivault")
ruleset(name="phivault") {
  action(type="omfile" file="$WORK/rsyslog.out" template="phivault")
}
EOF
	taskset -c "$GEN_CPU" rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslog.pid" \
		-M "$RSYSLOG_MODDIR" >"$WORK/rsyslog.log" 2>&1 &
	MON_RS_PID=$!
	STARTED+=("$MON_RS_PID")
	local i
	for i in $(seq 1 100); do
		kill -0 "$MON_RS_PID" 2>/dev/null || die "rsyslogd exited: $(tail -3 "$WORK/rsyslog.log")"
		(exec 3<>"/dev/tcp/127.0.0.1/$MON_RS_PORT") 2>/dev/null && return 0
		sleep 0.1
	done
	die "rsyslogd did not listen on 127.0.0.1:$MON_RS_PORT"
}

mon_serve() { # log name
	taskset -c "$SRV_CPU" "$BIN" serve --data "$PV_DATA" --dev >>"$WORK/$1" 2>&1 &
	PV_PID=$!
	STARTED+=("$PV_PID")
	wait_https "$PV_URL/v1/sys/health" "$PV_PID" ||
		die "phivault serve did not come up: $(tail -5 "$WORK/$1")"
	pin_all "$SRV_CPU" "$PV_PID"
	BENCH_TOKEN=$(login_pw bench-clinician "$CLIN_PW")
	export BENCH_TOKEN
}

# Entries the slowest sink has not delivered (from the database: the cursor
# rows are committed as the senders advance; WAL lets sqlite3 read meanwhile).
mon_sink_backlog() {
	sqlite3 "$PV_DATA/phivault.db" \
		"SELECT (SELECT coalesce(max(seq), 0) FROM audit) - coalesce((SELECT min(seq) FROM sink_cursors), 0);" \
		2>/dev/null || echo -1
}

# The sinks start at seq 1 (or at their cursor): let them deliver the
# backlog before a measurement.
mon_wait_sinks() {
	local i b
	for i in $(seq 1 600); do
		b=$(mon_sink_backlog)
		[ "$b" -ge 0 ] && [ "$b" -le 64 ] && break
		sleep 0.5
	done
	log "monitoring: sinks caught up with the trail (backlog $b entries) after ~$((i / 2)) s"
}

phivault_monitoring() {
	command -v rsyslogd >/dev/null || die "rsyslogd is missing (Debian rsyslog; make deps)"
	[ -r "$RSYSLOG_MODDIR/imtcp.so" ] || die "no $RSYSLOG_MODDIR/imtcp.so (Debian rsyslog)"
	local ocsf=$WORK/mon.ocsf.jsonl
	cp "$PV_CONF" "$WORK/phivault.conf.before-monitoring"

	log "monitoring: off (no sink, [detect] enabled = off)"
	mon_conf_set detect enabled off
	mon_serve phivault-mon.log
	run_wrk mon-off 32 "$PV_URL" read.lua "$PV_PID"
	stop_pid "$PV_PID"

	log "monitoring: on (detectors, syslog to rsyslog on 127.0.0.1, OCSF file)"
	mon_rsyslog_start
	mon_conf_set detect enabled on
	mon_conf_set sinks syslog "tcp://127.0.0.1:$MON_RS_PORT"
	mon_conf_set sinks ocsf_file "$ocsf"
	mon_serve phivault-mon.log
	mon_wait_sinks
	run_wrk mon-on 32 "$PV_URL" read.lua "$PV_PID"

	log "monitoring: on, the syslog receiver stopped"
	stop_pid "$MON_RS_PID"
	run_wrk mon-down 32 "$PV_URL" read.lua "$PV_PID"
	MON_LAG_DOWN=$(mon_sink_backlog)
	stop_pid "$PV_PID"

	# where the cost is: each half alone
	log "monitoring: detectors only (no sink)"
	cp "$WORK/phivault.conf.before-monitoring" "$PV_CONF"
	mon_conf_set detect enabled on
	mon_serve phivault-mon.log
	run_wrk mon-detect 32 "$PV_URL" read.lua "$PV_PID"
	stop_pid "$PV_PID"
	log "monitoring: sinks only (syslog to rsyslog, OCSF file; [detect] enabled = off)"
	mon_rsyslog_start
	mon_conf_set detect enabled off
	mon_conf_set sinks syslog "tcp://127.0.0.1:$MON_RS_PORT"
	mon_conf_set sinks ocsf_file "$ocsf"
	mon_serve phivault-mon.log
	mon_wait_sinks
	run_wrk mon-sinks 32 "$PV_URL" read.lua "$PV_PID"
	stop_pid "$PV_PID"
	stop_pid "$MON_RS_PID"

	log "monitoring: off again"
	cp "$WORK/phivault.conf.before-monitoring" "$PV_CONF"
	mon_conf_set detect enabled off
	mon_serve phivault-mon.log
	run_wrk mon-off2 32 "$PV_URL" read.lua "$PV_PID"
	stop_pid "$PV_PID"
	cp "$WORK/phivault.conf.before-monitoring" "$PV_CONF"

	local off on down r_on r_down ok_on ok_down out=$RESULTS/monitoring.md
	off=$(awk -v a="$(row_get mon-off 3)" -v b="$(row_get mon-off2 3)" 'BEGIN { printf "%.1f", (a + b) / 2 }')
	on=$(row_get mon-on 3)
	down=$(row_get mon-down 3)
	r_on=$(ratio "$on" "$off")
	r_down=$(ratio "$down" "$off")
	# CPU per request: steadier than the rates when other load shares the CPU
	local c_off c_on c_down
	c_off=$(awk -v a="$(row_get mon-off 9)" -v b="$(row_get mon-off2 9)" 'BEGIN { printf "%.0f", (a + b) / 2 }')
	c_on=$(ratio "$(row_get mon-on 9)" "$c_off")
	c_down=$(ratio "$(row_get mon-down 9)" "$c_off")
	ok_on=MISSED
	ge "$r_on" 0.95 && ok_on=met
	ok_down=MISSED
	ge "$r_down" 0.95 && ok_down=met
	{
		echo "# Monitoring on vs off ($MODE run, $(date -u '+%Y-%m-%d %H:%M UTC'), ${SECS} s a workload)"
		echo
		echo "| workload | conns | requests/s | p50 ms | p99 ms | errors | reconnects | server CPU µs/request | baseline | ratio | phivault peak RSS |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
		local name label rps
		for name in mon-off mon-on mon-down mon-detect mon-sinks mon-off2; do
			IFS='|' read -r _ conns rps p50 p99 err opened rss cpu <<<"$(grep "^$name|" "$ROWS")"
			case $name in
			mon-off) label="record read, monitoring off" ;;
			mon-on) label="record read, detectors + syslog (rsyslog) + OCSF file" ;;
			mon-down) label="record read, the same with rsyslog stopped" ;;
			mon-detect) label="record read, detectors only" ;;
			mon-sinks) label="record read, sinks only (rsyslog + OCSF file)" ;;
			mon-off2) label="record read, monitoring off again" ;;
			esac
			echo "| $label | $conns | $rps | $p50 | $p99 | $err | $opened | $cpu | mean of the off runs ($off) | $(ratio "$rps" "$off") | $(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }') |"
		done
		echo
		echo "| target | result | measured |"
		echo "|---|---|---|"
		echo "| read with all sinks and detectors on >= 0.95x off | $ok_on | ${r_on}x the rate; ${c_on}x the server CPU a request |"
		echo "| read with the syslog receiver stopped >= 0.95x off | $ok_down | ${r_down}x the rate; ${c_down}x the server CPU a request (syslog sink $MON_LAG_DOWN entries behind at the end) |"
		echo
		echo "Same data as the read row of latest.md, one server pinned to CPU $SRV_CPU, wrk and rsyslog on CPU $GEN_CPU. Off runs first and last: their spread is the noise of this machine; server CPU µs/request moves much less than the rates."
	} >"$out"
	echo
	cat "$out"
	echo
	log "monitoring: written to bench/results/monitoring.md"
}

ratio() { # rps baseline-rps (run.sh defines it later, for its report)
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

phivault_monitoring
