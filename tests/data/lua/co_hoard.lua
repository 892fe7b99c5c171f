-- Coroutines kept alive: memory, or the charge for creating them, ends it.
local t = {}
while true do t[#t + 1] = coroutine.create(function() end) end
