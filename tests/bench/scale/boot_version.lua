-- bench_scale's scenario: the least a run does on a board. Power on, wait
-- for the boot, ask the version, power off.
board:power_on()
local boot, why = board:wait_boot()
check(boot, "the board did not boot: %s", why)
local version, why2 = board:version()
check(version, "no version answer: %s", why2)
board:power_off()
verdict.pass("booted %s", version)
