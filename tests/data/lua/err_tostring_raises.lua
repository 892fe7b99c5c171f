local mt = { __tostring = function() error("broken __tostring") end }
error(setmetatable({}, mt))
