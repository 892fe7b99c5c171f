-- The update of boards/qemu-uboot*.yaml (`update: {lua: lib.uboot.ab_update}`):
-- the A/B steps of docs/qemu-uboot.md typed at the U-Boot prompt, as
-- tests/integration/uboot/test_ab.c performs them from C:
--
--   loadx ${loadaddr}                  XMODEM-1K of the image into RAM
--   iminfo ${loadaddr}                 its legacy header and data CRC
--   erase SLOT +SIZE                   the inactive slot (whole 256 KiB blocks)
--   cp.b ${loadaddr} SLOT LEN          "Copy to Flash... done"
--   cmp.b ${loadaddr} SLOT LEN         "were the same"
--   crc32 of RAM and of the slot       equal
--   setenv boot_first X; setenv boot_second Y
--   [redundant board type: setenv upgrade_available 1; setenv bootcount 0]
--   saveenv
--
-- update(img, opts) needs the board at the U-Boot prompt (as board:update
-- needs it at its shell): after lib.uboot.oracle.baseline() or boot().
-- opts (all optional):
--   slot = "A" | "B"   write this slot instead of the inactive one (a
--                      defective updater rewriting the running slot)
--   activate = false   write and check the slot, leave the environment
--   on_step = f        f(step) runs after each step completed ("loadx",
--                      "iminfo", "erase", "cp.b", "cmp.b", "crc32",
--                      "setenv", "saveenv"); when it returns a value, the
--                      update stops there and returns false and that value
--                      (a scenario bounds a cut to one step this way)
-- Returns true and the slot written, or false and why: "power cut" when
-- the power went during the update, else what failed.
local sh = require("lib.uboot.shell")

local M = {}

local function other(slot) return slot == "A" and "B" or "A" end

-- The scenario's hook after a step: nil to go on, or why to stop.
local function after(opts, name)
  if opts.on_step then return opts.on_step(name) end
  return nil
end

function M.update(img, opts)
  opts = opts or {}
  local ok, why, st, stop

  -- One command line that must succeed, then the hook.
  local function step(name, line, timeout)
    local good, w = sh.ok(line, timeout)
    if not good then return false, w end
    stop = after(opts, name)
    if stop ~= nil then return false, stop end
    return true
  end

  local first
  first, why = sh.getenv("boot_first")
  if first == nil then return false, why end
  if not first then
    return false, "the environment has no boot_first (default environment?)"
  end
  local slot = opts.slot or other(first)
  local r = board:region("slot-" .. slot:lower())
  if not r then return false, "the board type has no region slot-" .. slot:lower() end
  local len = img.size
  if len > r.size then
    return false, string.format("image of %d bytes does not fit slot %s (%d)", len, slot, r.size)
  end
  local addr = string.format("0x%08x", r.address)
  log.info("update: %s (%d bytes) into slot %s at %s", img.name, len, slot, addr)

  ok, why = sh.loadx(img, "${loadaddr}")
  if not ok then return false, why end
  stop = after(opts, "loadx")
  if stop ~= nil then return false, stop end

  st, why = sh.run("iminfo ${loadaddr}", 10000)
  if st == nil then return false, why end
  if st ~= 0 then
    return false, "refused: the image in RAM fails iminfo (legacy header or data CRC)"
  end
  stop = after(opts, "iminfo")
  if stop ~= nil then return false, stop end

  ok, why = step("erase", string.format("erase %s +0x%x", addr, r.size), 20000)
  if not ok then return false, why end
  ok, why = step("cp.b", string.format("cp.b ${loadaddr} %s 0x%x", addr, len), 30000)
  if not ok then return false, why end

  st, why = sh.run(string.format("cmp.b ${loadaddr} %s 0x%x", addr, len), 10000)
  if st == nil then return false, why end
  if st ~= 0 then return false, "slot " .. slot .. " differs from the image after cp.b" end
  stop = after(opts, "cmp.b")
  if stop ~= nil then return false, stop end

  local c_ram, c_slot
  c_ram, why = sh.crc32("${loadaddr}", len)
  if not c_ram then return false, why end
  c_slot, why = sh.crc32(addr, len)
  if not c_slot then return false, why end
  if c_ram ~= c_slot then
    return false, string.format("crc32 of slot %s is %s, the image's %s", slot, c_slot, c_ram)
  end
  stop = after(opts, "crc32")
  if stop ~= nil then return false, stop end
  if opts.activate == false then return true, slot end

  local env = string.format("setenv boot_first %s; setenv boot_second %s", slot, other(slot))
  if board:region("env-redund") then
    -- boot counting: bootlimit boots without a confirm fall back
    env = env .. "; setenv upgrade_available 1; setenv bootcount 0"
  end
  ok, why = step("setenv", env, 5000)
  if not ok then return false, why end
  ok, why = step("saveenv", "saveenv", 20000)
  if not ok then return false, why end
  return true, slot
end

return M
