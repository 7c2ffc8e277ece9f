-- Blind-index search: exact match on a searchable field, cycling over seeded SSNs.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
bench.cycle(function()
  local reqs = {}
  for k, ssn in ipairs(bench.lines("BENCH_SSNS")) do
    reqs[k] = wrk.format("GET", "/v1/collections/" .. bench.coll .. "/records?ssn=" .. ssn,
      bench.headers)
  end
  return reqs
end)
