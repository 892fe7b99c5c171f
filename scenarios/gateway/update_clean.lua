-- The gateway's clean update, start to finish: the golden image boots, the
-- new one goes over as base64 lines, boots pending, commits itself, and
-- stays after more boots. The control for the cut runs.
local gw = require("lib.gateway.oracle")
local oracle = require("lib.oracle")

gw.baseline()
local ok, why = oracle.update(images.new)
check(ok, "the update failed: %s", why)
board:power_off()
local boot, why2 = gw.boot()
check(boot, "the new image did not boot: %s", why2)
check(boot.version == images.new.version, "booted %s, expected %s",
      boot.version, images.new.version)
local v, slot, state = board:version()
check(v == images.new.version and state == "committed",
      "after its first boot the board says %s slot %s state %s", v, slot, state)
for _ = 1, 2 do
  board:power_off()
  local again, why3 = gw.boot()
  check(again and again.version == images.new.version,
        "after the commit, a reboot gave %s", again and again.version or why3)
end
verdict.pass("updated to %s and converged", images.new.version)
