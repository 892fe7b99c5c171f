-- #12 item 4: a loop creating fresh coroutines must meet the budget.
while true do coroutine.wrap(function() while true do end end)() end
