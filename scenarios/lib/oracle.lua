-- The oracle of FAULT-MODEL.md, as helpers every shipped scenario shares:
-- a known baseline before each run, the update, the judgement after a cut,
-- and the follow-up checks (still updatable, converges).
local M = {}

-- Power on and wait for the boot. Returns the boot table, or nil, reason.
function M.boot(opts)
  board:power_on()
  return board:wait_boot(opts)
end

-- The board's baseline: its `factory` image (a whole flash, see `patchlab
-- image factory`; the board's own from the lab, or the suite's) programmed
-- at the flash base through the probe, as a production line leaves a board;
-- on a board without a probe, restored by its type's recovery method (a
-- vendor flasher, an SD mux: board:restore()). No run depends on what the
-- previous run left behind. A board with neither is a lab problem (an
-- error, so the run ends lab-error), never a device failure.
function M.baseline()
  local p = board.probe
  board:power_off()
  if p then
    p:flash(images.factory, board.flash.base)
  elseif board:can_restore() then
    board:restore()
  else
    error(string.format("board %s has no probe and its type no recovery "
                        .. "method: its baseline cannot be restored", board.id), 0)
  end
  local boot, why = M.boot()
  check(boot, "baseline did not boot: %s", why)
  check(boot.version == images.golden.version,
        "baseline booted %s, expected %s", boot.version, images.golden.version)
  return boot
end

-- Install img the way the board type says: board:update() for methods the
-- board type describes (XMODEM), or the Lua module it names
-- (update: {lua: MODULE}), whose update(img, opts) returns ok, why.
function M.update(img, opts)
  local mod = board.update_module
  if mod then return require(mod).update(img, opts) end
  return board:update(img, opts)
end

-- Install img and reboot into it. Returns the boot table after the reboot,
-- or nil, reason (the update or the boot failed).
function M.update_and_reboot(img)
  local ok, why = M.update(img)
  if not ok then return nil, why end
  board:power_cycle(50)
  return board:wait_boot()
end

-- The flash operation counter of the board (through the probe), or nil.
function M.op_counter()
  local addr = board:register("op_counter")
  if not (board.probe and addr) then return nil end
  local b = board.probe:read(addr, 4)
  return string.unpack("<I4", b)
end

-- Aim a cut at flash operation `cut.op` of the update (counted from the
-- start of the update), in phase before | during | after, through probe
-- breakpoints on the flash driver. Returns the trigger.
function M.arm_flash_cut(cut, base_ops)
  local k = cut.op
  if cut.phase == "after" then k = k + 1 end
  local during = cut.phase == "during"
  return fault.cut({
    on = "breakpoint",
    symbols = { "flash_erase", "flash_program" },
    hit = k,
    -- during: stop inside the operation at phi and cut there; a probe
    -- that cannot falls back to cutting 1 µs after resuming the CPU
    phi = during and (cut.phi or 0.5) or nil,
    resume_us = during and 1 or nil,
  })
end

-- A valid, expected image (FAULT-MODEL.md, oracle rule 1): the slot the
-- board booted holds, byte for byte, the image of the version it reports.
-- A bootloader that boots a half-written slot is caught here even when the
-- header it kept says the right version. A board running a half-written
-- image does not run a valid image: rule 1 is broken, so the verdict is
-- `bricked` (the engine then restores the board through the probe). The
-- virtual boards never execute their payload, so a corrupt one does not
-- crash them: this comparison is what sees it.
function M.intact(boot)
  local img
  for _, name in ipairs({ "new", "golden" }) do
    if images[name] and images[name].version == boot.version then img = images[name] end
  end
  local r = board:region("slot-" .. string.lower(boot.slot or ""))
  if not (img and r and board.probe) then return true end
  local same, at = board.probe:compare(img, r.address)
  if same then return true end
  verdict.bricked("booted %s from slot %s, but the slot differs from that image "
                  .. "at byte %d: a half-written image", boot.version, boot.slot, at)
  return false
end

-- Consistent metadata (oracle rule 2): an interrupted update was never
-- confirmed, so if the new image runs, the bootloader must still be trying
-- it (pending), or a bad image could never be rolled back. Sets `fail`.
function M.consistent(boot, new_version)
  if boot.version ~= new_version then return true end
  local v, slot, state = board:version()
  if not (v and state) then return true end   -- the board does not say
  if state ~= "confirmed" then return true end
  verdict.fail("%s in slot %s is confirmed after an interrupted update that "
               .. "nobody confirmed", v, slot)
  return false
end

-- After a cut: power on, judge the boot (new image, old image, or brick),
-- then check the board converges (another boot gives the same image).
function M.judge_after_cut(expect_new, previous)
  -- The cut may not have happened (aimed after the last operation, the
  -- update ended first): then this power-off is the cut.
  board:power_off()
  local boot, why = M.boot()
  if boot and not M.intact(boot) then return "bricked", boot end
  if boot and not M.consistent(boot, expect_new) then return "fail", boot end
  local v = verdict.judge({ boot = boot, why = why, expect = expect_new,
                            previous = previous })
  if boot then
    board:power_cycle(50)
    local again, why2 = board:wait_boot()
    if not again or again.version ~= boot.version then
      -- overrides nothing: judge already chose; record the instability
      log.warn("did not converge: %s then %s", boot.version,
               again and again.version or why2)
    end
  end
  return v, boot
end

return M
