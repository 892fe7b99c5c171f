-- Coroutines inside coroutines inside pcall.
local function nest(depth)
  if depth == 0 then
    for _ = 1, 500 do end
    return
  end
  pcall(coroutine.wrap(function() nest(depth - 1) end))
end
while true do pcall(nest, 5) end
