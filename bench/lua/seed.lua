-- Seeding for the growth curve: POST .../records:batch with 100 new ~1 KiB
-- records a request until BENCH_SEED_N records were acknowledged, then stop.
-- The IDs of acknowledged records are appended to BENCH_SEED_OUT (one a
-- line), and the thread stops sending; bench/run.sh ends wrk (SIGINT) once
-- the file has them. A few batches in flight at the end still commit: the
-- caller counts records in the database, not here. BENCH_SEED_BASE offsets the patient
-- numbers so that successive calls make new patients.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local path = "/v1/collections/" .. bench.coll .. "/records:batch"
local want = tonumber(os.getenv("BENCH_SEED_N") or "0")
local n = tonumber(os.getenv("BENCH_SEED_BASE") or "0")
local per = 100
local notes = string.rep("Seeded visit. Blood pressure 126/80, pulse 70, afebrile. " ..
  "Continue metformin 500 mg twice daily; recheck HbA1c in three months. ", 7)
local acked = 0
local out

init = function(args)
  out = assert(io.open(os.getenv("BENCH_SEED_OUT"), "a"))
  request = function()
    local items = {}
    for k = 1, per do
      n = n + 1
      items[k] = string.format(
        '{"name":"Seed Patient %d","ssn":"%03d-%02d-%04d","mrn":"SEEDG-%08d",' ..
        '"dob":"19%02d-%02d-%02d","notes":"%s"}',
        n, 600 + n % 100, 1 + n % 99, 1 + n % 9999, n, 30 + n % 70, 1 + n % 12, 1 + n % 28, notes)
    end
    return wrk.format("POST", path, bench.headers, '{"create":[' .. table.concat(items, ",") .. ']}')
  end
  response = function(status, headers, body)
    if status == 200 then
      for id in body:gmatch('"id":"(rec_[^"]+)"') do
        out:write(id, "\n")
        acked = acked + 1
      end
    end
    if acked >= want then
      out:flush()
      wrk.thread:stop()
    end
  end
end
