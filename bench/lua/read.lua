-- Record read cycling over every seeded ID (GET .../records/{id}).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
bench.cycle(function()
  local reqs = {}
  for k, id in ipairs(bench.lines("BENCH_IDS")) do
    reqs[k] = wrk.format("GET", "/v1/collections/" .. bench.coll .. "/records/" .. id,
      bench.headers)
  end
  return reqs
end)
