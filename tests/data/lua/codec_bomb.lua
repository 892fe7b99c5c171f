-- encoding past the memory budget ends the run with the budget error
local s = string.rep("x", 1500000)
local e = codec.base64.encode(s)
local h = codec.hex.encode(s .. e)
return #h
