-- coroutine.close on a suspended coroutine, over and over.
while true do
  local co = coroutine.create(function()
    for _ = 1, 900 do end
    coroutine.yield()
  end)
  coroutine.resume(co)
  coroutine.close(co)
end
