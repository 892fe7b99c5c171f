-- sandbox: a mutation that would hand back the image unchanged (here an
-- explicit negative truncate) is the scenario's mistake, not a bad image
-- the board accepted
local same = image.mutate(images.new, {truncate = -1})
verdict.fail("a mutation changed nothing: %s", tostring(same))
