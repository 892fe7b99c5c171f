-- expect: 3 unexpected symbol near '*'
local x = 1
local y = x +* 2
return y
