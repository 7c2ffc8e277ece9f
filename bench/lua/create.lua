-- Record create: POST .../records with a ~1 KiB record, a new patient each time.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local path = "/v1/collections/" .. bench.coll .. "/records"
local notes = string.rep("Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. " ..
  "Continue lisinopril 10 mg daily; recheck lipids in three months. ", 7)
local n = math.random(1000000)
init = function(args)
  request = function()
    n = n + 1
    local body = string.format(
      '{"name":"Bench Patient %d","ssn":"%03d-%02d-%04d","mrn":"MRN-%08d",' ..
      '"dob":"19%02d-%02d-%02d","notes":"%s"}',
      n, 100 + n % 500, 1 + n % 99, 1 + n % 9999, n, 30 + n % 70, 1 + n % 12, 1 + n % 28, notes)
    return wrk.format("POST", path, bench.headers, body)
  end
end
