local v = sleep(1)
local w = sleepfail(1, "console vanished")
return v, w
