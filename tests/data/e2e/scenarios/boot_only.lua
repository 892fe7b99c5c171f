-- tests/e2e/killrack: power on and boot whatever the flash holds now (no
-- baseline: the point is what survived a killed rack).
board:power_on()
local boot, why = board:wait_boot()
check(boot, "board %s did not boot: %s", board.id, why)
verdict.pass("booted %s from slot %s", boot.version, boot.slot)
