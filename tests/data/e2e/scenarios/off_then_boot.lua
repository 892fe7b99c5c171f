-- tests/e2e/consolelost: a boot, the board switched off, a marker line
-- in the console log, a wait, then a power-on. The test has the rack's
-- relay swallow that power-on: the board stays off and silent, which a
-- dead board is too. The boot wait asks at the prompt (nothing), switches
-- the board on once more (the relay answers again by then) and hears it
-- boot: the run must end lab-error naming the power, never `fail`.
board:power_on()
local first, why = board:wait_boot()
check(first, "no first boot: %s", why)
board:power_off()
board.console:sendline("# relay window")
sleep(1500)
board:power_on()
local again, why2 = board:wait_boot()
check(again, "no boot after the power-on: %s", why2)
verdict.pass("booted %s twice", again.version)
