-- sandbox: an endless loop is stopped by the suite's instruction budget
log.info("trying an endless loop")
local n = 0
while true do
  n = n + 1
end
