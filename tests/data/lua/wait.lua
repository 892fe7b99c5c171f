-- sleep() is a waiting lab call the test registers: it yields to the loop.
local params = ...
local got = sleep(params.ms)
local again = sleep(1)
return got + again
