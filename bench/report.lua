-- wrk script: optional POST body with a fresh entity_id per request, and a JSON summary.
-- Environment: BENCH_METHOD (GET|POST), BENCH_BODY (a JSON template; {uuid} is replaced),
-- BENCH_AUTH (an Authorization header value, sent on every request when set).
local method = os.getenv("BENCH_METHOD") or "GET"
local template = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH")
local counter = 0

local function uuid()
  counter = counter + 1
  return string.format("%08x-0000-4000-8000-%012x", math.random(0, 0x7fffffff), counter)
end

local function headers(extra)
  local all = extra or {}
  if auth and auth ~= "" then all["Authorization"] = auth end
  return all
end

request = function()
  if method == "POST" and template then
    local body = template:gsub("{uuid}", uuid())
    return wrk.format("POST", nil, headers({["Content-Type"] = "application/json"}), body)
  end
  return wrk.format(method, nil, headers())
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,' ..
    '"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
