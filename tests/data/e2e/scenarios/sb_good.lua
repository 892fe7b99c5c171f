-- sandbox: a well-behaved scenario after the bad ones: the board boots
-- whatever its flash holds, and the run passes
local util = require("lib.helper")
board:power_on()
local boot, why = board:wait_boot()
check(boot, "the board did not boot: %s", why)
verdict.pass("booted %s after the sandbox runs (%s)", boot.version, util.name)
