-- Waits until another run wakes it with unpark(v).
local relay <close> = relay_object()
return park() + 1
