-- A well-behaved scenario: reads its params, returns a result table.
local params = ...
local util = require "lib.util"
return { doubled = params.n * 2, name = params.name, count = #params,
         clamped = util.clamp(params.n, 0, 10) }
