-- sandbox: there is no io library in a scenario
log.info("trying io.open")
local f = io.open("/etc/passwd", "r")
verdict.pass("io.open gave %s", tostring(f))
