local x = 1
return require "lib.does_not_exist"
