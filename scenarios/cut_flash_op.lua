-- A power cut aimed at one flash operation of the update, before, during or
-- after it (FAULT-MODEL.md "Where a cut can land"), through probe
-- breakpoints on the board's flash driver. A sweep runs it once to learn
-- how many operations an update takes (params.learn), then once per point
-- with params.cut = {op = k, phase = "before" | "during" | "after", phi,
-- nested = depth (cut again that many times during the recovery boots)}.
local oracle = require("lib.oracle")

local base = oracle.baseline()

if params.learn then
  local before = oracle.op_counter()
  local ok, why = oracle.update(images.new)
  check(ok, "learning pass: the clean update failed: %s", why)
  local after = oracle.op_counter()
  check(before and after, "learning pass: no op_counter register")
  verdict.pass("learning pass: %d flash operations", after - before)
  return { ops = after - before }
end

local cut = params.cut
check(cut and cut.op, "cut_flash_op needs params.cut (run it from a sweep)")
local t = oracle.arm_flash_cut(cut)
local ok, why = oracle.update(images.new)
if ok and not t:fired() then
  -- the update finished before operation k: the cut never happened
  t:disarm()
  log.info("the update ended before operation %d", cut.op)
end
-- Nested cuts (a sweep with `nested:`): cut again while the board
-- recovers from the last cut, at a seeded moment of its boot.
for _ = 1, cut.nested or 0 do
  board:power_off()
  fault.cut({ on = "time", after_ms = { 0, params.nested_window_ms or 40 } })
  board:power_on()
  board:wait_boot()
end
local v = oracle.judge_after_cut(images.new.version, base.version)

-- Still updatable: a follow-up update must succeed from wherever we are.
if params.follow_up and (v == "pass" or v == "rolled-back") then
  local again, why2 = oracle.update_and_reboot(images.new)
  if not (again and again.version == images.new.version) then
    log.warn("follow-up update failed: %s", again and again.version or why2)
  end
end
