local mt = { __tostring = function() while true do end end }
error(setmetatable({}, mt))
