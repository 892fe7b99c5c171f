-- An image that must be refused: corrupted, truncated, signed with another
-- key, a downgrade, or for another board. The update may be refused at
-- once or the bootloader may refuse the slot; either way the old image must
-- still boot. params.image names the suite image, or params.mutate
-- ({corrupt = bits} or {truncate = bytes}) mutates images.new.
local oracle = require("lib.oracle")

local base = oracle.baseline()
local img
if params.mutate then
  img = image.mutate(images.new, params.mutate)
else
  img = images[params.image]
  check(img, "no suite image '%s'", tostring(params.image))
end
local ok, why = oracle.update(img)
log.info("update of %s: %s", img.name, ok and "accepted" or why)
board:power_cycle(50)
local boot, why2 = board:wait_boot()
check(boot, "bricked by a bad image (%s): %s", img.name, why2)
check(boot.version == base.version,
      "a bad image (%s) was booted: version %s", img.name, boot.version)
verdict.pass("%s refused (%s), %s still boots", img.name,
             ok and "by the bootloader" or why, base.version)
