-- A power cut during U-Boot's `saveenv` (QEMU + U-Boot boards, no probe),
-- aimed by what saveenv prints: "Saving Environment to Flash...",
-- "Erasing Flash...", "Writing to Flash... done", "OK", plus a delay.
-- params: pattern (a console regex, default "Writing"), delay_ms (default 0);
-- or, from a sweep over console or time (scenarios/suites/uboot-windows.yaml),
-- params.cut = {on = "console", pattern, nth, delay_ms} or {on = "time",
-- after_ms, delay_ms}, armed as it is when saveenv is typed.
--
-- Before the cut the environment holds pltest=old (saved into both copies
-- on the redundant variant); the cut saveenv writes pltest=new. After the
-- cut, U-Boot must come up with its environment: old or new value, pass.
-- "bad CRC, using default environment" is the environment lost: a device
-- failure (verdict fail with that reason), the expected finding for a
-- single environment copy.
local ub = require("lib.uboot.oracle")
local sh = ub.shell

ub.baseline()
for _ = 1, ub.redundant() and 2 or 1 do
  local ok, why = sh.ok("setenv pltest old; saveenv", 20000)
  check(ok, "saveenv before the cut: %s", why)
end
local ok, why = sh.ok("setenv pltest new")
check(ok, "setenv: %s", why)

local aim = params.cut or { on = "console", pattern = params.pattern or "Writing",
                            delay_ms = params.delay_ms or 0 }
local pattern = aim.pattern or aim.on
local delay = math.ceil(aim.delay_ms or 0)
local t = fault.cut(aim)
local st, swhy = sh.run("saveenv", 20000)
log.info("saveenv: %s", st and ("finished, status " .. st) or swhy)
local fired = ub.await_cut(t, delay + 2000)
log.info("cut on '%s' +%d ms: %s", pattern, delay, fired and "fired" or "after saveenv")

local b, bwhy = ub.boot()
if not b then
  verdict.bricked("U-Boot does not reach its prompt after the cut: %s", bwhy)
  return
end
local v, gwhy = sh.getenv("pltest")
check(v ~= nil, "cannot read the environment: %s", gwhy)
if v == "old" or v == "new" then
  if not b.slot then
    verdict.fail("environment kept (pltest=%s) but no application booted: %s", v,
                 b.failed or "no marker")
    return
  end
  verdict.pass("environment kept: pltest=%s", v)
elseif b.bad_crc then
  verdict.fail("environment lost: bad CRC, using default environment")
elseif not v then
  verdict.fail("environment lost: pltest is not set")
else
  verdict.fail("pltest=%s after the cut (expected old or new)", v)
end
