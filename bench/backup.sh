#!/usr/bin/env bash
# bench/backup.sh: an online backup (the backup.create job) of a vault with N
# records (default 100,000) against what an operator would do by hand on the
# same database: `sqlite3 .backup` then `openssl enc -aes-256-ctr` of the copy
# (openssl enc has no GCM; CTR without a MAC is the cheaper baseline, so the
# ratio is conservative), and the p99 of record reads while the backup runs
# against the p99 of the same reads without it. Target: backup <= 1.5x the
# baseline. Called by bench/run.sh; on its own: bench/backup.sh [--records N].
#   env: BUILD=dir (default build)
# Prints a Markdown section on stdout. The server it starts is stopped by
# its PID on exit; its data directory is a temporary one, removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_BACKUP_RECORDS:-100000}
while [ $# -gt 0 ]; do
	case "$1" in
	--records) N=$2; shift 2 ;;
	*) echo "backup: unknown argument $1" >&2; exit 2 ;;
	esac
done
BUILD=${BUILD:-build}
case "$BUILD" in /*) BUILD_DIR=$BUILD ;; *) BUILD_DIR=$ROOT/$BUILD ;; esac
BIN=$BUILD_DIR/phivault
[ -x "$BIN" ] || { echo "backup: $BIN missing (make build)" >&2; exit 3; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pv-backup.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" init --json --data "$WORK/data" >"$WORK/init.json" 2>"$WORK/init.log"
CONF=$WORK/data/phivault.conf
sed -i "0,/^listen = .*/s||listen = 127.0.0.1:$PORT|; s|^mfa_required = .*|mfa_required = off|" "$CONF"
"$BIN" serve --data "$WORK/data" --dev >"$WORK/serve.log" 2>&1 &
PID=$!

python3 - "$WORK" "$PORT" "$N" <<'PY'
import datetime, http.client, json, os, ssl, subprocess, sys, threading, time

work, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(cafile=work + "/data/tls/cert.pem")
PW = "Quiet-harbor-Lantern-91"

def conn():
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)

def api(c, method, path, token=None, body=None, want=None):
    h = {"Content-Type": "application/json", "X-Purpose-Of-Use": "TREAT"}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    if want is not None and r.status != want:
        sys.exit("backup: %s %s -> %d %s" % (method, path, r.status, data[:200]))
    return json.loads(data) if data else None

c = conn()
for _ in range(500):
    try:
        api(c, "GET", "/v1/sys/health")
        break
    except OSError:
        time.sleep(0.02)
        c = conn()

def login(user, otp):
    t = api(c, "POST", "/v1/auth/login", None, {"username": user, "password": otp}, 200)["token"]
    api(c, "POST", "/v1/auth/password", t, {"current_password": otp, "new_password": PW}, 200)
    return api(c, "POST", "/v1/auth/login", None, {"username": user, "password": PW}, 200)["token"]

init = json.load(open(work + "/init.json"))
admin = login("admin", init["admin_password"])
r = api(c, "POST", "/v1/users", admin, {"username": "clara", "display_name": "clara",
        "email": "clara@bench.test", "roles": ["clinician"]}, 202)
# dual control: a security officer, made with the key file, approves the PHI grant
key = open(work + "/data/unseal.key").read().strip()
o = api(c, "POST", "/v1/sys/officers", admin, {"username": "olga", "key_file": key}, 201)
officer = login("olga", o["one_time_password"])
api(c, "POST", "/v1/approvals/%s/approve" % r["approval"], officer, {"note": "bench"}, 200)
clara = login("clara", r["one_time_password"])
api(c, "POST", "/v1/collections", admin, {"name": "patients", "region": "local", "fields": [
    {"name": "name", "type": "string", "classification": "phi"},
    {"name": "mrn", "type": "mrn", "classification": "phi", "searchable": True}]}, 201)
ids = []
t0 = time.time()
for b in range(0, n, 100):
    items = [{"name": "Bench Person %d" % i, "mrn": "MRN%08d" % i} for i in range(b, min(n, b + 100))]
    res = api(c, "POST", "/v1/collections/patients/records:batch", clara, {"create": items}, 200)
    if len(ids) < 2000:
        ids.extend(x["id"] for x in res["results"])
seed_s = time.time() - t0

def reads(stop, lat):
    rc = conn()
    i = 0
    while not stop.is_set():
        t = time.perf_counter()
        api(rc, "GET", "/v1/collections/patients/records/" + ids[i % len(ids)], clara, None, 200)
        lat.append(time.perf_counter() - t)
        i += 1

def p99(v):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * 0.99))] * 1000 if v else float("nan")

# reads alone, for as long as the backup will roughly take (3 s at least)
quiet = []
stop = threading.Event()
th = threading.Thread(target=reads, args=(stop, quiet))
th.start()
time.sleep(3)
stop.set()
th.join()

# the backup, with the same reads beside it
busy = []
stop = threading.Event()
th = threading.Thread(target=reads, args=(stop, busy))
th.start()
t = time.perf_counter()
job = api(c, "POST", "/v1/sys/backups", admin, None, 202)["job"]
while True:
    j = api(c, "GET", "/v1/jobs/" + job, admin, None, 200)
    if j["state"] in ("done", "failed", "cancelled"):
        break
    time.sleep(0.05)
backup_s = time.perf_counter() - t
stop.set()
th.join()
if j["state"] != "done":
    sys.exit("backup: job ended %s" % j["state"])
lst = api(c, "GET", "/v1/sys/backups", admin, None, 200)
size = lst[0]["size"]

# the baseline on the same database, while the server still runs
db = work + "/data/phivault.db"
copy = work + "/copy.db"
t = time.perf_counter()
subprocess.run(["sqlite3", db, ".backup '%s'" % copy], check=True)
subprocess.run(["openssl", "enc", "-aes-256-ctr", "-pbkdf2", "-pass", "pass:bench", "-in", copy,
                "-out", copy + ".enc"], check=True)
base_s = time.perf_counter() - t
db_bytes = os.path.getsize(copy)
ratio = backup_s / base_s
print("## Backup (`bench/backup.sh`)")
print()
print("| records | database | backup file | phivault backup | sqlite3 .backup + openssl enc | ratio | target | read p99 alone | read p99 during backup |")
print("|---|---|---|---|---|---|---|---|---|")
print("| %d | %.1f MB | %.1f MB | %.2f s | %.2f s | %.2fx | <= 1.5x: %s | %.1f ms | %.1f ms |" % (
    n, db_bytes / 1e6, size / 1e6, backup_s, base_s, ratio, "met" if ratio <= 1.5 else "NOT met",
    p99(quiet), p99(busy)))
print()
print("phivault's time is from POST /v1/sys/backups to the job's done as a client sees it "
      "(polling every 50 ms; the job runner's pacing included); %d reads alone, %d during the "
      "backup, one client. Seeding %d records over HTTPS took %.1f s." % (
      len(quiet), len(busy), n, seed_s))
PY
