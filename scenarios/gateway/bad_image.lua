-- A bad image sent over the console must be refused and leave the board
-- booting what it had: params.image names it (corrupt, wrong_board, crash).
-- A crashing image is accepted, panics at boot, and the bootloader must
-- fall back after bootlimit boots: rolled-back.
local gw = require("lib.gateway.oracle")
local oracle = require("lib.oracle")

local img = images[params.image or "corrupt"]
check(img, "no image '%s' in the suite", tostring(params.image))
local base = gw.baseline()
local ok, why = oracle.update(img)
if ok then
  -- accepted (the crash image is valid): it must not stick
  board:power_off()
  local boot, why2 = gw.boot({ timeout = 8000 })
  if not boot then
    -- a boot loop (the new image crashes and nothing falls back) or no boot
    verdict.bricked("after installing %s: %s", img.name, tostring(why2))
    return
  end
  check(boot.version == base.version, "%s installed and %s runs", img.name, boot.version)
  verdict.rolled_back("%s accepted, crashed, and %s came back", img.name, boot.version)
  return
end
log.info("refused: %s", tostring(why))
check(tostring(why):find("^refused") ~= nil, "the update of %s ended with %s",
      img.name, tostring(why))
board:power_off()
local boot, why3 = gw.boot()
check(boot and boot.version == base.version, "after refusing %s: %s", img.name,
      boot and boot.version or why3)
verdict.pass("%s refused (%s), %s still boots", img.name, tostring(why), base.version)
