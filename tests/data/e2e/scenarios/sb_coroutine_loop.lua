-- sandbox: a loop creating fresh coroutines meets the instruction budget
-- (issue #12 item 4: it used to escape it)
log.info("trying a loop of coroutines")
while true do coroutine.wrap(function() while true do end end)() end
