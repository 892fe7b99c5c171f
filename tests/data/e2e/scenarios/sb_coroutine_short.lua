-- sandbox: coroutines too short for a hook step each, caught by pcall
log.info("trying a loop of short coroutines")
while true do
  pcall(coroutine.wrap(function() for _ = 1, 900 do end error({}) end))
end
