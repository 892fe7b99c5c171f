-- A power cut on the n-th console line of the update that matches a
-- pattern, plus an optional delay: for boards without a probe, or to spread
-- cuts over an update by what the board says ("erase sector", "write").
-- params: pattern (default "erase sector"), nth (a number or {lo, hi} drawn
-- from the run's seed), delay_ms; or, from a sweep over console or time,
-- params.cut = {on = "console", pattern, nth, delay_ms} or {on = "time",
-- after_ms, delay_ms}, armed as it is.
local oracle = require("lib.oracle")

local base = oracle.baseline()
local aim = params.cut or { on = "console",
                            pattern = params.pattern or "erase sector",
                            nth = params.nth or 1,
                            delay_ms = params.delay_ms or 0 }
local t = fault.cut(aim)
oracle.update(images.new)
local v = oracle.judge_after_cut(images.new.version, base.version)
log.info("cut %s at %s: %s", t:fired() and "fired" or "did not fire",
         t:info().detail, v)
