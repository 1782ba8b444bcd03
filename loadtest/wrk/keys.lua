-- keys.lua: the pieces every LinkRing wrk script shares; load it with `dofile` (see below).
--
-- Design: the key space is k1..kN, the long URL of kI is http://example.com/page/I (what
-- preload.py and gen_log.py store too). N comes from the first wrk script argument
-- (`wrk … -s x.lua URL -- N`) or else the LINKRING_KEYS environment variable. Requests are built
-- by concatenating precomputed pieces (no wrk.format per request), so that wrk, not the server,
-- is never the bottleneck at ~100k req/s on one thread. A key chooser is a function returning
-- an index in 1..N:
--   uniform  every key equally likely
--   zipf     P(I) ∝ 1/I (Zipf-like, s = 1, by inverting the continuous power law in O(1):
--            I = floor((N+1)^u), u uniform in [0,1)); with N = 100k, k1 gets ~6 % of the
--            requests and the 10 hottest keys ~21 %.
-- The request flavour comes from LOADTEST_API: `linkring` (default; also what nginx answers)
-- or `webdis` (GET /GET/kI, SET /SET/kI/<%-encoded long URL>), so one script drives both.
-- `done` prints one machine-readable line that the drivers parse:
--   wrk-result requests=… duration_us=… rps=… p50_us=… p99_us=… p999_us=… max_us=…
--              connect=… read=… write=… status=… timeout=…
-- (`status` counts answers that are not 2xx/3xx).
--
-- Use from a script next to this one:
--   local keys = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "keys.lua")

local keys = {}

function keys.count(args)
   local n = tonumber(args and args[1]) or tonumber(os.getenv("LINKRING_KEYS") or "")
   assert(n and n >= 1, "give the number of keys: wrk … -- N, or LINKRING_KEYS=N")
   return math.floor(n)
end

function keys.uniform(n)
   return function() return math.random(n) end
end

function keys.zipf(n)
   local log_span = math.log(n + 1)
   return function()
      local i = math.floor(math.exp(math.random() * log_span))
      if i > n then return n end
      return i
   end
end

-- Returns the chooser named NAME ("uniform" when nil).
function keys.chooser(name, n)
   local make = ({ uniform = keys.uniform, zipf = keys.zipf })[name or "uniform"]
   assert(make, "unknown key distribution '" .. tostring(name) .. "': uniform or zipf")
   return make(n)
end

-- The end of every request: the version, Host, then every other header given with wrk -H (so
-- `wrk -H "X-Cluster-Token: T"` reaches a node that has a cluster token), then the blank line.
local function tail()
   local lines = { " HTTP/1.1\r\nHost: " .. (wrk.headers["Host"] or (wrk.host .. ":" .. wrk.port)) .. "\r\n" }
   for name, value in pairs(wrk.headers) do
      if name ~= "Host" then lines[#lines + 1] = name .. ": " .. value .. "\r\n" end
   end
   return table.concat(lines) .. "\r\n"
end

local function is_webdis()
   local api = os.getenv("LOADTEST_API") or "linkring"
   assert(api == "linkring" or api == "webdis", "LOADTEST_API must be linkring or webdis")
   return api == "webdis"
end

-- Builders of raw requests for key index i (call after wrk has set wrk.host/headers).
function keys.get_builder()
   local suffix = tail()
   local head = is_webdis() and "GET /GET/k" or "GET /k"
   return function(i) return head .. i .. suffix end
end

function keys.put_builder()
   local suffix = tail()
   if is_webdis() then
      return function(i)
         return "GET /SET/k" .. i .. "/http%3A%2F%2Fexample.com%2Fpage%2F" .. i .. suffix
      end
   end
   return function(i)
      return "PUT /?short=k" .. i .. "&long=http://example.com/page/" .. i .. suffix
   end
end

-- Seeds each thread differently (wrk threads start with the same Lua state).
-- A wrk `setup(thread)` that numbers the threads from 1 into each thread's `thread_id`
-- (their seeds and key ranges differ by it). A script says `setup = keys.setup()`.
function keys.setup()
   local counter = 0
   return function(thread)
      counter = counter + 1
      thread:set("thread_id", counter)
   end
end

function keys.seed(thread_id)
   math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
end

function keys.done(summary, latency, requests)
   local e = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format(
      "wrk-result requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d p999_us=%d max_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, summary.requests / seconds,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end

return keys
