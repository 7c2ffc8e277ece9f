-- Batch read: POST .../records:batch {"read":[BENCH_BATCH IDs]}, cycling windows of IDs.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
bench.cycle(function()
  local per = tonumber(os.getenv("BENCH_BATCH") or "10")
  local ids = bench.lines("BENCH_IDS")
  local reqs = {}
  for start = 1, #ids - per + 1, per do
    local q = {}
    for k = start, start + per - 1 do q[#q + 1] = '"' .. ids[k] .. '"' end
    reqs[#reqs + 1] = wrk.format("POST", "/v1/collections/" .. bench.coll .. "/records:batch",
      bench.headers, '{"read":[' .. table.concat(q, ",") .. ']}')
  end
  return reqs
end)
