-- Completes another run's wait from inside this run: that run is queued
-- and resumes after this one stops executing.
local params = ...
unpark(41)
if params.cancel then cancel_unparked() end
return "woke it"
