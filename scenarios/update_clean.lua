-- A clean update, start to finish: the baseline boots, the new image is
-- accepted, boots pending, confirms, and stays after more reboots.
local oracle = require("lib.oracle")

oracle.baseline()
local boot, why = oracle.update_and_reboot(images.new)
check(boot, "the new image did not boot: %s", why)
check(boot.version == images.new.version, "booted %s, expected %s",
      boot.version, images.new.version)
check(board:confirm(), "the board did not confirm the new image")
for _ = 1, 2 do
  board:power_cycle(50)
  local again, why2 = board:wait_boot()
  check(again and again.version == images.new.version,
        "after confirming, a reboot gave %s", again and again.version or why2)
end
verdict.pass("updated to %s and converged", images.new.version)
