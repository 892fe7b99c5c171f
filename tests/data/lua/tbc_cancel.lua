-- Cancelled while waiting: the <close> variable must be closed.
local relay <close> = relay_object()
sleep(3600 * 1000)
return "never"
