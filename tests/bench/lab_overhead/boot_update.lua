-- bench_lab_overhead's scenario: a run the board dominates. The factory
-- flash through the probe (so every run starts alike), then the measured
-- part: boot, update to the new image (XMODEM), power off. The bench times
-- it from the baseline's power on to the verdict; the reason names the
-- flash operations the update took, from the board's op counter.
local oracle = require("lib.oracle")

oracle.baseline()          -- power off, factory flash, power on, boot
local before = oracle.op_counter()
local ok, why = board:update(images.new)
check(ok, "the update failed: %s", why)
local after = oracle.op_counter()
check(before and after, "no op_counter register")
board:power_off()
verdict.pass("flash_ops=%d", after - before)
