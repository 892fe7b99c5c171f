-- io is not part of the sandbox.
local f = io.open("/etc/passwd")
return f
