-- sandbox: an error object that is not a string still names its line
local why = { code = 7 }

error(why)
