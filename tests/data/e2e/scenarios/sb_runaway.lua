-- sandbox (stop): boots, then loops with a budget of hours; only the
-- controller's SIGTERM ends it (issue #12 item 4: it used to be ignored)
board:power_on()
local boot, why = board:wait_boot()
check(boot, "the board did not boot: %s", why)
local n = 0
while true do
  n = n + 1
end
