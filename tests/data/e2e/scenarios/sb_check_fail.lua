-- a device assertion: a false check() ends the run `fail`, not lab-error
board:power_on()
local boot, why = board:wait_boot()
check(boot, "the board did not boot: %s", why)
check(boot.version == "9.9.9", "booted %s, expected 9.9.9", boot.version)
verdict.pass("unreachable")
