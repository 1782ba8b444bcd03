-- mixed.lua: a read/write mix over k1..kN: W % PUTs (same long URL as preload, a new version),
-- the rest GETs, keys uniform or Zipf-like (see keys.lua).
--
--   wrk -t1 -c64 -d10s -s loadtest/wrk/mixed.lua http://127.0.0.1:PORT -- N W [uniform|zipf]
--
-- Every key exists, so any answer that is not 2xx/3xx is an error. A write re-stores the value
-- the key already has, so reads never see a different answer whatever the interleaving.

local keys = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "keys.lua")
local choose, get, put, write_fraction

setup = keys.setup()

function init(args)
   keys.seed(thread_id)
   choose = keys.chooser(args[3], keys.count(args))
   write_fraction = (tonumber(args[2]) or 10) / 100
   assert(write_fraction >= 0 and write_fraction <= 1, "W is a percentage, 0..100")
   get, put = keys.get_builder(), keys.put_builder()
end

function request()
   if math.random() < write_fraction then return put(choose()) end
   return get(choose())
end

done = keys.done
