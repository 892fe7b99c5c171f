-- Probes of the sandbox; each entry must be true.
local r = {}
r.no_dump = string.dump == nil
r.no_loadfile = not pcall(function() return loadfile end)
r.no_dofile = not pcall(function() return dofile end)
r.no_collect = not pcall(function() return collectgarbage end)
r.no_debug = not pcall(function() return debug end)
r.no_package = not pcall(function() return package end)
r.string_mt_hidden = getmetatable("") == false
r.method_works = ("abc"):upper() == "ABC"
r.string_ro = not pcall(function() string.rep = nil end)
r.math_ro = not pcall(function() math.pi = 3 end)
r.print_ro = not pcall(function() print = nil end)
r.load_text = load("return 1 + 1")() == 2
r.load_binary_refused = load("\27Lua") == nil
r.load_env_is_run = select(2, pcall(load("return undefined_name"))):find("nonexistent global") ~= nil
r.top_yield_refused = not pcall(coroutine.yield)
r.inner_coroutine = coroutine.wrap(function() coroutine.yield(5) end)() == 5
r.no_wait_in_coroutine = select(2, coroutine.resume(coroutine.create(function() return sleep(1) end))) :find("cannot wait inside a coroutine") ~= nil
r.pairs_on_proxy = (function() local n = 0 for _ in pairs(table) do n = n + 1 end return n >= 7 end)()
r.len_on_proxy = #table == 0
r.rawset_env_is_private = (function() rawset(_ENV, "mine", 1) return mine == 1 end)()
r.env_mt_locked = not pcall(setmetatable, _ENV, nil)
r.os_time = type(os.time()) == "number"
r.no_gc_metamethod = not pcall(setmetatable, {}, { __gc = function() end })
r.setmetatable_works = getmetatable(setmetatable({}, { __index = { z = 1 } })).__index.z == 1
return r
