-- tests/e2e/latency: restore the factory flash, arm a console-match cut,
-- update; the cut must fire and report its seen/issued/done times.
-- params: pattern, nth (a number or {lo, hi}), delay_ms.
local p = board.probe
check(p ~= nil, "board %s has no probe", board.id)
board:power_off()
p:flash(images.factory, board.flash.base)
board:power_on()
local boot, why = board:wait_boot()
check(boot, "baseline did not boot: %s", why)
local t = fault.cut({ on = "console", pattern = params.pattern,
                      nth = params.nth, delay_ms = params.delay_ms or 0 })
local ok, uwhy = board:update(images.new)
check(t:fired(), "the console cut did not fire (update: %s, %s)",
      tostring(ok), tostring(uwhy))
local i = t:info()
check(i.seen_ms and i.issued_ms and i.done_ms,
      "the trigger did not record its times")
log.info("cut on %s: seen %.3f issued %.3f done %.3f ms, %s us",
         i.kind, i.seen_ms, i.issued_ms, i.done_ms, tostring(i.latency_us))
verdict.pass("console cut fired after %s us", tostring(i.latency_us))
