-- put_keys.lua: PUT /?short=kI&long=http://example.com/page/I, every request a different key
-- (LOADTEST_API=webdis: GET /SET/kI/<%-encoded long URL>).
--
--   wrk -t2 -c64 -d10s -s loadtest/wrk/put_keys.lua http://127.0.0.1:PORT -- N [FIRST [T]]
--
-- Thread t of T (t = 1..T) sends I = FIRST + ((t - 1) + T * c) mod N for its own counter
-- c = 0, 1, …, so threads never collide and every connection of a thread draws from the same
-- counter. T must equal wrk's -t: wrk runs setup() and init() of a thread before it creates
-- the next one, so a thread cannot count them itself. After N keys the counters wrap around and
-- overwrite (a steady write load). Defaults: FIRST from LINKRING_KEY_FIRST or 1, T from
-- LINKRING_WRK_THREADS or 1, N from LINKRING_KEYS.

local keys = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "keys.lua")
local n, first, offset, stride, counter, build

setup = keys.setup()

function init(args)
   n = keys.count(args)
   first = tonumber(args[2]) or tonumber(os.getenv("LINKRING_KEY_FIRST") or "") or 1
   stride = tonumber(args[3]) or tonumber(os.getenv("LINKRING_WRK_THREADS") or "") or 1
   assert((thread_id or 1) <= stride, "thread " .. tostring(thread_id) .. " of only " .. stride .. ": pass T = wrk -t")
   offset = (thread_id or 1) - 1
   counter = 0
   build = keys.put_builder()
end

function request()
   local i = first + (offset + stride * counter) % n
   counter = counter + 1
   return build(i)
end

done = keys.done
