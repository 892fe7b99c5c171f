-- expect: 5 'end' expected (to close 'function' at line 2) near 'return'
local function f()
  return 1

return f
