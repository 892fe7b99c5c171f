-- bench_delay_accuracy: `params.cuts` delayed console cuts in one run: boot,
-- arm a cut `delay_ms` after the first "erase sector" line (drawn from the
-- run's seed in 0.1 .. 20 ms), update, and again. Every firing is a
-- `trigger` event with its requested delay (delay_us) and its seen/issued
-- times.
local fired = 0
for _ = 1, params.cuts or 10 do
  board:power_off()
  board:power_on()
  local boot, why = board:wait_boot()
  check(boot, "the board did not boot: %s", why)
  board.console:sendline("")
  board.console:expect_literal("> ", { timeout = 2000 })
  local d = math.random(100, 20000) / 1000
  -- the bench measures each cut's error from its trigger event: a cut
  -- that missed its aim must not start the run again (and be counted twice)
  local t = fault.cut({ on = "console", pattern = "erase sector", nth = 1,
                        delay_ms = d, tolerance_ms = 60000 })
  board:update(images.new)
  if t:fired() then fired = fired + 1 else t:disarm() end
end
board:power_off()
verdict.pass("%d delayed cuts fired", fired)
