-- Rapid power cycling during normal boots of a confirmed image must not
-- make the board fall back to the old one (RAUC issue 490: boot attempt
-- counters drained by power cuts).
local oracle = require("lib.oracle")

oracle.baseline()
local boot, why = oracle.update_and_reboot(images.new)
check(boot and boot.version == images.new.version, "update failed: %s", why)
check(board:confirm(), "the board did not confirm")
for _ = 1, params.cycles or 6 do
  -- cut while the bootloader runs: once it has counted this attempt. The
  -- aim is "before the image is healthy" (half a second of the board's
  -- time after the line; the scenario's own power-off comes 20 ms after
  -- power-on anyway), not a millisecond: 10 ms is what this cut must hold to
  local t = fault.cut({ on = "console", pattern = "^vboot: booting", nth = 1,
                        tolerance_ms = 10 })
  board:power_on()
  sleep(20)
  board:power_off()
  -- a cycle whose cut came first from our own power-off must not leave
  -- its trigger armed for the verification boot below
  t:disarm()
end
boot, why = oracle.boot()
check(boot, "bricked by power cycles during boot: %s", why)
check(boot.version == images.new.version,
      "fell back to %s after %d interrupted boots", boot.version, params.cycles or 6)
verdict.pass("still %s after %d interrupted boots", boot.version, params.cycles or 6)
