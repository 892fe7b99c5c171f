-- tests/e2e/consolelost: a boot, a second with the console idle in
-- between (nothing listens to it), then a boot after a power cycle. The
-- line it types marks the idle second in the console log, where the test
-- looks for it; the test renames the console then. The next boot must end
-- lab-error (console lost), not time out into a device verdict.
board:power_on()
local first, why = board:wait_boot()
check(first, "no first boot: %s", why)
board.console:sendline("# console idle")
sleep(1000)
board:power_cycle(50)
local again, why2 = board:wait_boot()
check(again, "no boot after a power cycle: %s", why2)
verdict.pass("booted %s twice", again.version)
