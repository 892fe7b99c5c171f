-- The oracle for boards/virtual-gateway.yaml (a board with no probe whose
-- boots commit themselves): boots that wait for the settled line, a
-- baseline without a probe, the judgement after a cut, and the silent
-- downgrade check (FAULT-MODEL.md, oracle rules 1 and 4).
--
-- A boot is only over when the board says "gw: boot committed" (the board
-- type's `settled:`): a power-off between "gw: boot ok" and that line cuts
-- into the commit's environment write, which is one of the windows the
-- suite is looking for, so the lab's own power-offs must not go there. The
-- board prints its shell prompt right after that line, and
-- board:wait_boot() returns only once the prompt followed the boot line
-- (the board type has a `prompt:`), so a boot it returns is settled.
local shipped = require("lib.oracle")

local M = {}

-- Power on and wait for the boot, committed (see above). Returns the boot
-- table or nil, why.
function M.boot(opts)
  board:power_on()
  return board:wait_boot(opts)
end

-- The factory state: through the board type's recovery (the factory
-- programmer: board:restore()) or a probe, as the shipped oracle does;
-- on a board with neither, through the board itself: boot, and if it does
-- not run the golden version, install it and boot it. A board that does
-- not boot at all cannot be brought back from Lua: that raises
-- (lab-error), it is not the device's fault in this run.
function M.baseline()
  if board.probe or (board.can_restore and board:can_restore()) then
    return shipped.baseline()
  end
  board:power_off()
  local boot, why = M.boot()
  if not boot then
    error(string.format("baseline: %s does not boot (%s) and this lab cannot "
                        .. "recover it from a scenario", board.id, tostring(why)))
  end
  if boot.version ~= images.golden.version then
    local ok, why2 = shipped.update(images.golden)
    if not ok then error("baseline: reinstalling the golden image: " .. tostring(why2)) end
    board:power_off()
    boot, why = M.boot()
    if not (boot and boot.version == images.golden.version) then
      error(string.format("baseline: after reinstalling %s the board runs %s",
                          images.golden.version, boot and boot.version or tostring(why)))
    end
  end
  return boot
end

-- After a cut: boot (settled), judge new / old / bricked, and check that
-- another boot gives the same image (a change is a failure, not a note).
function M.judge_after_cut(expect_new, previous)
  board:power_off()
  local boot, why = M.boot()
  local v = verdict.judge({ boot = boot, why = why, expect = expect_new,
                            previous = previous })
  if boot then
    board:power_off()
    local again, why2 = M.boot()
    if not again then
      verdict.bricked("booted %s once, then nothing: %s", boot.version, tostring(why2))
      return "bricked", boot
    end
    if again.version ~= boot.version then
      verdict.fail("did not converge: %s, then %s on the next boot",
                   boot.version, again.version)
      return "fail", boot
    end
  end
  return v, boot
end

-- Oracle rule 4: img was installed, booted and committed; `cycles` boots
-- interrupted `delay_ms` after "gw: boot ok" must not bring the old image
-- back. Ends the run: pass, or fail with "silent downgrade".
function M.no_silent_downgrade(img, old_version, cycles, delay_ms)
  for i = 1, cycles do
    board:power_off()
    local t = fault.cut({ on = "console", pattern = "^gw: boot ok", nth = 1,
                          delay_ms = delay_ms })
    board:power_on()
    local fired = false
    for _ = 1, 100 do
      if t:fired() then fired = true break end
      sleep(20)
    end
    t:disarm()
    board:power_off()
    check(fired, "interrupted boot %d: the cut %g ms after 'gw: boot ok' never fired",
          i, delay_ms)
  end
  local boot, why = M.boot()
  if not boot then
    verdict.bricked("after %d interrupted boots: %s", cycles, tostring(why))
    return
  end
  if boot.version == old_version and boot.version ~= img.version then
    verdict.fail("silent downgrade: %s was booted and committed, then %d boots "
                 .. "cut %g ms after 'gw: boot ok' brought back %s",
                 img.version, cycles, delay_ms, boot.version)
    return
  end
  check(boot.version == img.version, "after %d interrupted boots: %s, expected %s",
        cycles, boot.version, img.version)
  verdict.pass("still %s after %d boots cut %g ms after 'gw: boot ok'",
               boot.version, cycles, delay_ms)
end

return M
