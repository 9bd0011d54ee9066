-- wrk script for bench/ingest.py: POST one record per request with the API key, a fresh
-- entity_id each time, and a JSON summary. Environment: BENCH_BODY (JSON template, {uuid}
-- is replaced), BENCH_AUTHORIZATION (the Authorization header's value).
local template = os.getenv("BENCH_BODY")
local authorization = os.getenv("BENCH_AUTHORIZATION")
local counter = 0

request = function()
  counter = counter + 1
  local id = string.format("%08x-0000-4000-8000-%012x", math.random(0, 0x7fffffff), counter)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = authorization}
  return wrk.format("POST", nil, headers, (template:gsub("{uuid}", id)))
end

done = function(summary, latency, requests)
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
