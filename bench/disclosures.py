#!/usr/bin/env python3
"""bench/disclosures.py: the accounting of disclosures on a big trail.

Builds a SQLite trail of N entries (default 100000) with the tables of the
store's migrations (audit, audit_subjects), 2000 patients each touched by
about N/2000 entries, then times, for one patient:
  index: the store's query (SQ_AUDIT_SUBJECT_SCAN in src/store/sqlite.c)
  scan:  what it would cost without the index: every entry's detail read
         (in SQL with instr(), and parsed as JSON as the reader would)
Usage: bench/disclosures.py [N] [DB]   (DB default: a temporary file)
"""
import hashlib, json, os, random, sqlite3, sys, tempfile, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
db = sys.argv[2] if len(sys.argv) > 2 else os.path.join(tempfile.mkdtemp(), "bench.db")
PATIENTS = 2000
random.seed(7)
refs = [hashlib.sha256(b"p%d" % i).hexdigest() for i in range(PATIENTS)]
c = sqlite3.connect(db)
c.executescript("""
CREATE TABLE audit(seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL,
 action TEXT NOT NULL, resource TEXT NOT NULL, purpose_of_use TEXT NOT NULL,
 outcome TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
 prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX audit_action ON audit(action);
CREATE TABLE audit_subjects(subject_ref TEXT NOT NULL, seq INTEGER NOT NULL,
 PRIMARY KEY(subject_ref, seq)) WITHOUT ROWID;
CREATE INDEX audit_subjects_seq ON audit_subjects(seq);
""")
rows, idx = [], []
for seq in range(1, N + 1):
    r = refs[random.randrange(PATIENTS)]
    detail = json.dumps({"fields": ["mrn", "note", "patient"], "subjects": [r],
                         "unmasked": []}, separators=(",", ":"), sort_keys=True)
    t = "2026-%02d-%02dT10:00:00.000Z" % (1 + seq * 12 // (N + 1), 1 + seq % 28)
    rows.append((seq, t, '{"session_id":"ses_x","source":"10.0.0.1","user_id":"usr_x"}',
                 "record.read", "collections/visits/records/rec_%d" % seq, "TREAT",
                 "allowed", "", detail, "0" * 64, "0" * 64))
    idx.append((r, seq))
with c:
    c.executemany("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    c.executemany("INSERT INTO audit_subjects VALUES (?,?)", idx)
target = refs[42]
Q = ("SELECT a.seq, a.time, a.actor, a.action, a.resource, a.purpose_of_use, a.outcome, "
     "a.reason, a.detail, a.prev_hash, a.hash FROM audit_subjects s JOIN audit a "
     "ON a.seq = s.seq WHERE s.subject_ref = ?1 AND s.seq > ?2 AND a.time >= ?3 "
     "AND a.time < ?4 ORDER BY s.seq LIMIT ?5")


def best(f, n=5):
    out = None
    for _ in range(n):
        t0 = time.perf_counter()
        got = f()
        dt = time.perf_counter() - t0
        out = dt if out is None or dt < out else out
    return out, got


ti, hits = best(lambda: c.execute(Q, (target, 0, "", "~", 10001)).fetchall())
ts, scan = best(lambda: [r for r in c.execute("SELECT seq, detail FROM audit ORDER BY seq")
                         if target in json.loads(r[1]).get("subjects", [])])
tl, like = best(lambda: c.execute("SELECT seq FROM audit WHERE instr(detail, ?1) > 0 "
                                  "ORDER BY seq", (target,)).fetchall())
assert [h[0] for h in hits] == [s[0] for s in scan] == [s[0] for s in like]
plan = " / ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN " + Q, (target, 0, "", "~", 1)))
print("trail %d entries, %d for the patient" % (N, len(hits)))
print("index: %.2f ms   full scan in SQL (instr on detail): %.1f ms (%.0fx)   "
      "full scan parsing each detail: %.1f ms" % (ti * 1e3, tl * 1e3, tl / ti, ts * 1e3))
print("plan: %s" % plan)
