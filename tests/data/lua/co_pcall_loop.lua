-- The kill raised inside a coroutine, caught by pcall around the
-- coroutine and by coroutine.resume, must still end the run.
while true do
  pcall(coroutine.wrap(function() while true do end end))
  local co = coroutine.create(function() while true do end end)
  coroutine.resume(co)
end
