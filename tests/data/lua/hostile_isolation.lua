-- Issue 12 item 1: every way one run tried to reach the next. Each entry is
-- true when the attempt was refused or stayed private to this run; the
-- victim run (victim_isolation.lua) then checks nothing leaked.
local r = {}
local function evil() return "EVIL" end

-- rawset on a shared library proxy
r.rawset_string = not pcall(rawset, string, "lower", evil)
r.rawset_table = not pcall(rawset, table, "insert", evil)
r.rawset_math = not pcall(rawset, math, "floor", evil)
-- table.* write through metamethods: still read-only
r.table_insert_string = not pcall(table.insert, string, evil)
-- pairs() must not hand out the writable table as its state
do
  local f, s = pairs(string)
  r.pairs_state_is_proxy = rawequal(s, string)
  r.pairs_state_ro = not pcall(function() s.upper = evil end)
  local n = 0
  for k, v in pairs(string) do
    n = n + 1
    if type(v) == "table" then r.pairs_leaks_table = false end
  end
  r.pairs_iterates = n >= 10
  r.next_on_proxy_empty = next(string) == nil
end
-- the string metatable
r.string_mt_hidden = getmetatable("") == false
r.string_mt_index_refused = not pcall(function() getmetatable("").__index = { lower = evil } end)
r.string_dump_hidden = ("").dump == nil
-- a host object's metatable (as the lab API's board, console, ...)
r.object_mt_hidden = getmetatable(plainobj) == false
r.object_still_works = plainobj:hello() == "hello"
-- setmetatable on shared proxies
r.setmetatable_proxy = not pcall(setmetatable, string, {})
-- globals: refused, or private to this run
r.global_write_refused = not pcall(function() leak = 1 end)
r.rawset_env_private = (function() rawset(_ENV, "leak", 1) return leak == 1 end)()
-- required modules: mutate the run's copy of lib.oracle
do
  local o = require("lib.oracle")
  o.judge_hostile = true
  for k, v in pairs(o) do
    if type(v) == "function" then o[k] = evil end
  end
  r.module_copy_mutated = o.baseline == evil
end
-- my own tables keep working
r.own_rawset = rawget(rawset({}, "a", 1), "a") == 1
r.own_getmetatable = getmetatable(setmetatable({}, { x = 1 })).x == 1
return r
