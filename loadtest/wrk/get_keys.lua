-- get_keys.lua: GET /kI with I over 1..N, uniform or Zipf-like (keys stored by preload.py).
--
--   wrk -t1 -c64 -d10s -s loadtest/wrk/get_keys.lua http://127.0.0.1:PORT -- N [uniform|zipf]
--
-- N may also come from LINKRING_KEYS; LOADTEST_API=webdis sends GET /GET/kI instead. Every key
-- exists, so any answer that is not 2xx/3xx is an error (wrk counts those in `status`).

local keys = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "keys.lua")
local choose, build

setup = keys.setup()

function init(args)
   keys.seed(thread_id)
   choose = keys.chooser(args[2], keys.count(args))
   build = keys.get_builder()
end

function request()
   return build(choose())
end

done = keys.done
