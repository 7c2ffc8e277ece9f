-- Shared by every workload: one machine-readable line for bench/run.sh.
-- Errors: wrk counts a non-2xx/3xx answer as "status", and a connection the
-- server closed as "read" (wrk then reconnects: a keep-alive failure).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
