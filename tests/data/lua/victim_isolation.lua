-- Runs after hostile_isolation.lua: each entry is true when this run sees
-- the libraries, metatables, globals and modules as a fresh run should.
local r = {}
r.string_lower = string.lower("AB") == "ab"
r.method_lower = ("AB"):lower() == "ab"
r.table_insert = (function() local t = {} table.insert(t, 1) return #t == 1 end)()
r.math_floor = math.floor(1.5) == 1
r.string_raw_empty = next(string) == nil
r.string_mt_hidden = getmetatable("") == false
r.no_dump_method = ("").dump == nil
r.object_mt_hidden = getmetatable(plainobj) == false
r.object_method = plainobj:hello() == "hello"
r.no_leak_global = not pcall(function() return leak end)
do
  local o = require("lib.oracle")
  r.oracle_fresh = o.judge_hostile == nil and type(o.baseline) == "function"
      and o.baseline ~= nil
end
return r
