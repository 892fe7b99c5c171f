-- Memory exhaustion caught by pcall must still end the run.
local keep = {}
for _ = 1, 50 do
  local ok = pcall(function()
    local s = "xxxxxxxxxxxxxxxx"
    while true do s = s .. s; keep[#keep + 1] = s end
  end)
end
return "survived"
