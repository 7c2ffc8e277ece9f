-- Baseline: GET one path (BENCH_PATH) on nginx, or phivault's health route.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
init = function(args)
  local req = wrk.format("GET", os.getenv("BENCH_PATH") or "/")
  request = function() return req end
end
