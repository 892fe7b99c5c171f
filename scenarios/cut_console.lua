-- A power cut on the n-th console line of the update that matches a
-- pattern, plus an optional delay: for boards without a probe, or to spread
-- cuts over an update by what the board says ("erase sector", "write").
-- params: pattern (default "erase sector"), nth (a number or {lo, hi} drawn
-- from the run's seed), delay_ms.
local oracle = require("lib.oracle")

local base = oracle.baseline()
local t = fault.cut({ on = "console", pattern = params.pattern or "erase sector",
                      nth = params.nth or 1, delay_ms = params.delay_ms or 0 })
oracle.update(images.new)
local v = oracle.judge_after_cut(images.new.version, base.version)
log.info("cut %s at %s: %s", t:fired() and "fired" or "did not fire",
         t:info().detail, v)
