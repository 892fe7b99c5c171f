-- now() completes synchronously; failnow() fails synchronously.
local a, b = now(7, "x")
local ok, err = pcall(failnow, "relay jammed")
return a, b, ok, err
