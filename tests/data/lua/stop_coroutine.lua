raise_signal()
for _ = 1, 10 do
  pcall(coroutine.wrap(function() while true do end end))
end
while true do end
