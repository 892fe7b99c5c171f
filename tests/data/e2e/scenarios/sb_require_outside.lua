-- sandbox: require resolves only inside scenarios/; escape/ is a symlink to
-- a directory outside it
log.info("trying require outside scenarios/")
local m = require("escape.secret")
verdict.pass("required a module from outside: %s", tostring(m.leaked))
