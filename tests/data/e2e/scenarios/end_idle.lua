-- tests/e2e/consolelost: a boot, a marker line in the console log, a
-- wait, then the end of the run: the lab's own power-off comes next. The
-- test has the rack's relay swallow it; the controller must find the
-- board still running (it answers at its prompt) and switch it off again.
board:power_on()
local b, why = board:wait_boot()
check(b, "no boot: %s", why)
board.console:sendline("# last words")
sleep(1000)
verdict.pass("booted %s", b.version)
