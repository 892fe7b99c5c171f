local mt = { __tostring = function(e) return "device said " .. e.what end }
error(setmetatable({ what = "no" }, mt))
