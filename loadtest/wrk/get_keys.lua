-- get_keys.lua: GET /kI with I uniform over 1..N (keys stored by preload.py or put_keys.lua).
--
--   wrk -t1 -c64 -d10s -s loadtest/wrk/get_keys.lua http://127.0.0.1:PORT -- N
--
-- N may also come from LINKRING_KEYS. Every key exists, so any answer that is not 3xx is an
-- error (wrk counts non-2xx/3xx in `status`). The chooser is a plain function so a zipf or
-- mixed script can reuse this shape with its own.

local keys = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "keys.lua")
local thread_counter = 0
local choose, build

function setup(thread)
   thread_counter = thread_counter + 1
   thread:set("thread_id", thread_counter)
end

function init(args)
   keys.seed(thread_id)
   choose = keys.uniform(keys.count(args))
   build = keys.get_builder()
end

function request()
   return build(choose())
end

done = keys.done
