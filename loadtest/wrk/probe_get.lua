-- probe_get.lua: a light latency probe, GET /kI with I uniform over 1..N, one request every
-- PAUSE ms per connection (default 2: about 400 requests/s), so that it measures the server's
-- latency under someone else's load without adding much of its own. wrk is C and takes little
-- CPU: on a saturated machine its figures are less its own queueing than those of a client
-- that drives the load itself (loadtest/rebalance.bash runs it beside failover_load.py).
--
--   wrk -t1 -c1 -d10s -s loadtest/wrk/probe_get.lua http://127.0.0.1:PORT -- N [PAUSE_MS]

local keys = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "keys.lua")
local choose, build, pause

setup = keys.setup()

function init(args)
   keys.seed(thread_id)
   choose = keys.chooser("uniform", keys.count(args))
   build = keys.get_builder()
   pause = tonumber(args[2]) or 2
end

function delay()
   return pause
end

function request()
   return build(choose())
end

done = keys.done
