-- keys.lua: the pieces every LinkRing wrk script shares; load it with `dofile` (see below).
--
-- Design: the key space is k1..kN, the long URL of kI is http://example.com/page/I (what
-- preload.py and gen_log.py store too). N comes from the first wrk script argument
-- (`wrk … -s x.lua URL -- N`) or else the LINKRING_KEYS environment variable. Requests are built
-- by concatenating precomputed pieces (no wrk.format per request), so that wrk, not the server,
-- is never the bottleneck at ~100k req/s on one thread. A key chooser is a function returning
-- an index in 1..N: `uniform` now; a zipf or mixed load adds its own chooser and reuses the rest.
-- `done` prints one machine-readable line that the drivers parse:
--   wrk-result requests=… duration_us=… rps=… p50_us=… p99_us=… connect=… read=… write=… status=… timeout=…
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

local function tail()
   local host = wrk.headers["Host"] or (wrk.host .. ":" .. wrk.port)
   return " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
end

-- Builders of raw requests for key index i (call after wrk has set wrk.host/headers).
function keys.get_builder()
   local suffix = tail()
   return function(i) return "GET /k" .. i .. suffix end
end

function keys.put_builder()
   local suffix = tail()
   return function(i)
      return "PUT /?short=k" .. i .. "&long=http://example.com/page/" .. i .. suffix
   end
end

-- Seeds each thread differently (wrk threads start with the same Lua state).
function keys.seed(thread_id)
   math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
end

function keys.done(summary, latency, requests)
   local e = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format(
      "wrk-result requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, summary.requests / seconds,
      latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end

return keys
