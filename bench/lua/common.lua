-- Helpers for the phivault workloads. Environment (set by bench/run.sh):
--   BENCH_LUA     this directory
--   BENCH_TOKEN   a clinician's bearer token
--   BENCH_COLL    the collection ("patients")
--   BENCH_IDS     file: one record ID a line
--   BENCH_SSNS    file: one seeded SSN a line (search)
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

bench = {}
bench.coll = os.getenv("BENCH_COLL") or "patients"
bench.headers = {
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
  ["X-Purpose-Of-Use"] = "TREAT",
  ["Content-Type"] = "application/json",
}

function bench.lines(envname)
  local t = {}
  for line in io.lines(os.getenv(envname)) do
    if line ~= "" then t[#t + 1] = line end
  end
  return t
end

-- Requests are built in init(), once wrk has set the Host header (a
-- request formatted while the script loads has none). build() returns a
-- list of requests; each wrk thread cycles through it from its own start.
function bench.cycle(build)
  init = function(args)
    local reqs = build()
    local i = math.random(#reqs)
    request = function()
      i = i % #reqs + 1
      return reqs[i]
    end
  end
end
