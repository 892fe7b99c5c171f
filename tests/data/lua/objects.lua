local a = relay_object()
a:close()
a:close()
local ok, err = pcall(a.state, a)
local ok2, err2 = pcall(relay_object().state, "not an object")
do
  local b <close> = relay_object()
end
return ok, err, ok2, err2, relay_object():state()
