-- sandbox: reading an undefined global (a typo) is an error, not nil
log.info("trying a global typo")
local p = bord.id
verdict.pass("read a misspelt global: %s", tostring(p))
