local function f() error("plain text, no position", 0) end

f()
