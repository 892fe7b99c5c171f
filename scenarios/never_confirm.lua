-- A new image that boots but never confirms itself must be rolled back:
-- after the bootloader's attempts run out, the previous image boots again
-- and stays.
local oracle = require("lib.oracle")

local base = oracle.baseline()
local boot, why = oracle.update_and_reboot(images.new)
check(boot, "the new image did not boot: %s", why)
local rolled = false
for _ = 1, params.reboots or 5 do
  board:power_cycle(50)
  boot, why = board:wait_boot()
  check(boot, "bricked while not confirming: %s", why)
  if boot.version == base.version then rolled = true break end
end
check(rolled, "still running unconfirmed %s after %d reboots", boot.version,
      params.reboots or 5)
board:power_cycle(50)
boot = board:wait_boot()
check(boot and boot.version == base.version, "the rollback did not stay")
verdict.pass("unconfirmed %s rolled back to %s", images.new.version, base.version)
