local mt = { __tostring = function() coroutine.yield() return "yielded" end }
error(setmetatable({}, mt))
