-- C calls that call back into Lua: each callback creates a coroutine.
local s = string.rep("a", 1000)
while true do
  pcall(string.gsub, s, ".", function(c)
    return coroutine.wrap(function() for _ = 1, 100 do end return c end)()
  end)
  table.sort({ 3, 1, 2 }, function(a, b)
    return coroutine.wrap(function() return a < b end)()
  end)
end
