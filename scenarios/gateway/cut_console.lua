-- A power cut aimed by what the gateway says during its update: the nth
-- line matching a pattern, plus a delay. The windows of the gateway's
-- defects are milliseconds wide after such lines (DESIGN.md, "The gateway
-- family"): "^fwupdate: activating slot" (the activation's environment
-- writes), "^fwupdate: preparing slot" (the write that marks the target
-- slot not bootable).
-- params: pattern, nth (default 1), delay_ms; a console sweep gives them
-- as params.cut = {pattern=, nth=, delay_ms=}.
local gw = require("lib.gateway.oracle")
local oracle = require("lib.oracle")

local cut = params.cut or {}
local pattern = cut.pattern or params.pattern or "^fwupdate: activating slot"
local nth = cut.nth or params.nth or 1
local delay = cut.delay_ms or params.delay_ms or 0

local base = gw.baseline()
local t = fault.cut({ on = "console", pattern = pattern, nth = nth, delay_ms = delay })
local ok, why = oracle.update(images.new)
-- the update may end before the delay ran out: the cut then lands on the
-- idle shell; wait for it, so that the judgement starts from a cut board
t:wait(500)
log.info("cut %g ms after '%s' #%d: %s; update %s (%s)", delay, pattern, nth,
         t:fired() and "fired" or "did not fire", ok and "done" or "stopped",
         tostring(why))
gw.judge_after_cut(images.new.version, base.version)
