-- coroutine.close running a to-be-closed variable's endless __close, the
-- error it raises caught by pcall, over and over.
local mt = { __close = function() while true do end end }
while true do
  local co = coroutine.create(function()
    local guard <close> = setmetatable({}, mt)
    coroutine.yield()
  end)
  coroutine.resume(co)
  pcall(coroutine.close, co)
end
