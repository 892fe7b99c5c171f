-- sandbox: a memory bomb is stopped by the suite's memory budget
log.info("trying a memory bomb")
local t = {}
for i = 1, 100000000 do
  t[i] = string.rep("x", 64) .. i
end
verdict.pass("allocated %d strings", #t)
