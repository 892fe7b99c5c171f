-- A budget kill raised inside pcall must still end the run.
local ok, err
for _ = 1, 100 do
  ok, err = pcall(function() while true do end end)
end
return "survived", err
