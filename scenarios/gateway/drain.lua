-- Boot counting must stop once an update is committed: install the new
-- image, let it boot and commit, then interrupt `cycles` boots `delay_ms`
-- after "gw: boot ok" (before the boot's own commit write is done). A
-- board that brings the old image back is a silent downgrade: `fail`.
-- params: cycles (default 3: the board's bootlimit), delay_ms; a console
-- sweep gives the delay as params.cut.delay_ms.
local gw = require("lib.gateway.oracle")
local oracle = require("lib.oracle")

local cut = params.cut or {}
local delay = cut.delay_ms or params.delay_ms or 0
local cycles = params.cycles or 3

local base = gw.baseline()
local ok, why = oracle.update(images.new)
check(ok, "the update failed: %s", why)
board:power_off()
local boot, why2 = gw.boot()
check(boot and boot.version == images.new.version,
      "the new image did not boot and commit: %s", boot and boot.version or why2)
gw.no_silent_downgrade(images.new, base.version, cycles, delay)
