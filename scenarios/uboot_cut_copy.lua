-- A power cut during the `cp.b` of an A/B update (QEMU + U-Boot boards):
-- the update (lib/uboot/ab_update.lua through lib.oracle.update) copies
-- images.new into the inactive slot; the power goes delay_ms after U-Boot
-- prints "Copy to Flash...". params: delay_ms (default 5), pattern
-- (default "Copy to Flash").
--
-- Afterwards the board must boot slot A or B with a valid image: the boot
-- script runs an image only when `iminfo` verifies its CRC, and the image
-- prints "APP: slot X version V" with the slot it ran from. Slot A holds
-- the factory image, so A must say images.golden's version and B
-- images.new's. Factory version: rolled-back; the update: pass; nothing:
-- bricked.
local oracle = require("lib.oracle")
local ub = require("lib.uboot.oracle")

ub.baseline()
local pattern = params.pattern or "Copy to Flash"
local delay = params.delay_ms or 5
local t = fault.cut({ on = "console", pattern = pattern, delay_ms = delay })
-- The console can reach us tens of ms late on a loaded host (the whole of
-- "Copy to Flash... done" in one read): a cut aimed into the copy must not
-- land in the update's saveenv. When cp.b is done and the trigger has not
-- fired, the cut is now, before anything else is written.
local late = false
local ok, why = oracle.update(images.new, {
  on_step = function(step)
    if step == "cp.b" and not t:fired() then
      t:disarm()
      late = true
      board:power_off()
      return "power cut"
    end
  end,
})
log.info("update: %s", ok and ("finished into slot " .. why) or why)
local fired = ub.await_cut(t, delay + 2000)
log.info("cut on '%s' +%d ms: %s", pattern, delay,
         fired and "fired" or (late and "at the end of cp.b (trigger late)" or "after the update"))

local b, bwhy = ub.boot()
if not b then
  verdict.bricked("U-Boot does not reach its prompt after the cut: %s", bwhy)
  return
end
if b.bad_crc then
  -- (as uboot_cut_saveenv.lua: the environment lost is a device failure;
  -- U-Boot itself still runs and takes a new environment)
  verdict.fail("environment lost: bad CRC, using default environment")
  return
end
if not b.slot then
  verdict.bricked("no slot boots: %s", b.failed or "no marker")
  return
end
local rb = board:region("slot-b")
local st = ub.shell.run(string.format("iminfo 0x%08x", rb.address), 10000)
log.info("slot B after the cut: %s", st == 0 and "a valid image" or "not bootable (torn or empty)")
local want = b.slot == "A" and images.golden.version or images.new.version
check(b.version == want, "slot %s booted version %s, but holds %s", b.slot, b.version, want)
verdict.judge({ boot = b, expect = images.new.version, previous = images.golden.version })
