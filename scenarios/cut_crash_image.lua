-- A power cut aimed at one flash operation while installing an image that
-- crashes right after it boots (images.crash). Whatever the cut left, the
-- bootloader must end up on the previous image: the crashing one is never
-- confirmed, so its attempts run out and it is rolled back. A bootloader
-- that took a torn trailer for a valid, confirmed one keeps booting the
-- crashing image forever: a device that cannot recover on its own.
-- Run it from a sweep (params.cut = {op, phase, phi}) like cut_flash_op.lua.
local oracle = require("lib.oracle")

local base = oracle.baseline()
if params.learn then
  local before = oracle.op_counter()
  local ok, why = oracle.update(images.crash)
  check(ok, "learning pass: the clean update failed: %s", why)
  local after = oracle.op_counter()
  verdict.pass("learning pass: %d flash operations", after - before)
  return { ops = after - before }
end

local cut = params.cut
check(cut and cut.op, "cut_crash_image needs params.cut (run it from a sweep)")
local t = oracle.arm_flash_cut(cut)
local ok = oracle.update(images.crash)
if ok and not t:fired() then t:disarm() end

board:power_off()
board:power_on()
local boots = params.boots or 2
for i = 1, boots do
  local boot, why = board:wait_boot()
  if not boot then
    verdict.bricked("no boot after the cut: %s", why)
    return
  end
  if boot.version == base.version then
    verdict.rolled_back("back on %s after %d boot(s)", base.version, i)
    return
  end
  -- the crashing image booted: it resets by itself, wait for the next boot
end
verdict.bricked("still booting the crashing %s after %d boots: it was "
                .. "never rolled back", images.crash.version, boots)
