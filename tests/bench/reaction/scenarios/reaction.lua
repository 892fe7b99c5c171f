-- bench_reaction: `params.cuts` power cuts, each aimed at the boot line
-- "gw: boot ok" with no delay: switch on, and the trigger switches off
-- the moment the line has arrived. The virtual gateway logs where each
-- cut landed after the line (rack.log), which is what the bench reads.
local fired = 0
for _ = 1, params.cuts or 50 do
  board:power_off()
  -- the meter is the board: a cut that missed must not start the run again
  local t = fault.cut({ on = "console", pattern = "^gw: boot ok",
                        tolerance_ms = 60000 })
  board:power_on()
  board.console:expect("^gw: boot ok", { timeout = 10000 })
  if t:fired() then fired = fired + 1 else t:disarm() end
end
board:power_off()
verdict.pass("%d console cuts fired", fired)
