-- The A/B update without a cut (QEMU + U-Boot boards): the control of the
-- cut scenarios. lib.oracle.update_and_reboot runs the board type's update
-- module (lib/uboot/ab_update.lua) and boots: the update must run from
-- slot B. Where the board type has a confirm (the redundant variant, boot
-- counter), the image is confirmed and must still boot from B after
-- another power cycle.
local oracle = require("lib.oracle")
local ub = require("lib.uboot.oracle")

ub.baseline()
local boot, why = oracle.update_and_reboot(images.new)
check(boot, "no boot after the update: %s", why)
check(boot.slot == "B", "the update booted from slot %s", boot.slot)
if ub.redundant() then
  local m, cwhy = board:confirm()
  check(m, "confirm: %s", cwhy)
  board:power_cycle(50)
  boot, why = board:wait_boot()
  check(boot and boot.slot == "B", "after the confirm: %s",
        boot and ("slot " .. boot.slot) or why)
end
verdict.judge({ boot = boot, why = why, expect = images.new.version,
                previous = images.golden.version })
