-- Small helpers shared by scenarios: require "lib.util".
local M = {}

-- x limited to [lo, hi].
function M.clamp(x, lo, hi)
  if x < lo then return lo end
  if x > hi then return hi end
  return x
end

-- Call f(...) up to n times until it returns a true first value; returns
-- what the last call returned.
function M.retry(n, f, ...)
  local r
  for _ = 1, n do
    r = table.pack(f(...))
    if r[1] then break end
  end
  return table.unpack(r, 1, r.n)
end

return M
