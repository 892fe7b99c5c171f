-- A power cut that tears the state record of an update: the last flash
-- operation of the update (the record that makes the new slot pending),
-- cut when only part of it is written. params.phi (default 0.25) is the
-- part written: with a 32-byte record, its magic but not its sequence
-- number, slot or state. A bootloader that checks the record's CRC ignores
-- the torn record and boots the old image; one that takes a half-written
-- magic at face value (MCUboot issue 1966) reads the erased bytes as a
-- confirmed state and boots the new image without a test boot, which
-- oracle rule 2 (consistent metadata) fails. A bootloader that erases and
-- rewrites one state sector loses both slots' records and bricks.
-- params: phi (0..1), from_end (aim at this many operations before the
-- last one; default 0).
local oracle = require("lib.oracle")

-- How many flash operations an update takes on this board, right now.
oracle.baseline()
local before = oracle.op_counter()
local ok, why = oracle.update(images.new)
check(ok, "learning pass: the clean update failed: %s", why)
local after = oracle.op_counter()
check(before and after, "no op_counter register: cannot aim at the last operation")
local ops = after - before
check(ops > (params.from_end or 0), "the update took %d flash operations", ops)

local base = oracle.baseline()
local cut = { op = ops - (params.from_end or 0), phase = "during",
              phi = params.phi or 0.25 }
local t = oracle.arm_flash_cut(cut)
oracle.update(images.new)
if not t:fired() then
  t:disarm()
  log.warn("the cut at operation %d of %d did not fire", cut.op, ops)
end
local v = oracle.judge_after_cut(images.new.version, base.version)
log.info("cut during operation %d of %d at phi %.2f: %s", cut.op, ops, cut.phi,
         tostring(v))
