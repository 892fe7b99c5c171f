-- A brownout during the update: the power drops for a few milliseconds at
-- a progress mark and comes back. The CPU may survive, a flash write may
-- not. The board must still boot a valid image.
local oracle = require("lib.oracle")

local base = oracle.baseline()
fault.cut({ on = "progress", percent = params.percent or 50, action = "glitch",
            glitch_ms = params.glitch_ms or 3 })
oracle.update(images.new)
-- the glitch powered the board again: whatever it does now, judge a boot
board:power_off()
oracle.judge_after_cut(images.new.version, base.version)
