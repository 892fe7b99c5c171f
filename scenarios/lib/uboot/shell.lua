-- The U-Boot command line over the board's console, for lib.uboot.oracle
-- and lib.uboot.ab_update (boards/qemu-uboot*.yaml).
--
-- Why markers: board.console:expect() sees only the output that arrives
-- while it waits, and it ends at the line it matched (what followed in the
-- same read is gone). So a bare prompt is never waited for (a stale "=> "
-- would match); every command line ends with `; echo @@plN $?`, and the
-- wait is for that line, unique to the command, which carries the exit
-- status. Values are echoed inside brackets so that a line matched while it
-- is still arriving cannot yield a value cut short.
local M = {}

local seq = 0

local function marker()
  seq = seq + 1
  return string.format("@@pl%d", seq)
end

-- Run `line` at the prompt. Returns its exit status (a number), or nil and
-- why ("power cut", "timeout: ...").
function M.run(line, timeout)
  local mk = marker()
  board.console:sendline(line .. "; echo " .. mk .. " $?")
  local m, why = board.console:expect("^" .. mk .. " ([0-9]+)",
                                      { timeout = timeout or 5000 })
  if not m then return nil, why end
  return tonumber(m[1])
end

-- Run `line` and check it succeeded. Returns true, or false and why.
function M.ok(line, timeout)
  local st, why = M.run(line, timeout)
  if st == nil then return false, why end
  if st ~= 0 then return false, string.format("'%s' failed (status %d)", line, st) end
  return true
end

-- The value of environment variable `name` (a string), false when it is
-- not set, or nil and why.
function M.getenv(name)
  local mk = marker()
  board.console:sendline(string.format(
    'if env exists %s; then echo "%s [${%s}]"; else echo "%s none"; fi',
    name, mk, name, mk))
  local m, why = board.console:expect("^" .. mk .. " (none|\\[.*\\])", { timeout = 5000 })
  if not m then return nil, why end
  if m[1] == "none" then return false end
  return m[1]:sub(2, -2)
end

-- CRC-32 of len bytes at addr (an address or a ${variable}) as U-Boot's
-- `crc32` computes it: 8 hex digits, or nil and why.
function M.crc32(addr, len)
  local mk = marker()
  board.console:sendline(string.format("crc32 %s 0x%x; echo %s $?", addr, len, mk))
  local m, why = board.console:expect("==> ([0-9a-f]{8})", { timeout = 10000 })
  if not m then return nil, why end
  return m[1]
end

-- Get to a prompt that answers: type a marker until it is echoed back (a
-- key typed while a command runs may be eaten by its Ctrl-C check).
-- Returns true, or false and why.
function M.sync(tries, timeout)
  local why
  for _ = 1, tries or 3 do
    local st
    st, why = M.run("true", timeout or 3000)
    if st then return true end
    if why == "power cut" then break end
  end
  return false, why
end

-- Send data with XMODEM-1K to a `loadx` started here at addr. Returns true,
-- or false and why ("power cut", ...).
function M.loadx(img, addr)
  board.console:sendline("loadx " .. addr)
  local ok, why = board.console:send_xmodem(img)
  if not ok then return false, why end
  return true
end

-- Power on and wait until U-Boot is at its prompt. Returns a table
--   { slot=, version= (the application's marker, when one booted),
--     failed = "BOOT FAILED: ..." (the boot script found no slot),
--     bad_crc = true when U-Boot said "bad CRC, using default environment" }
-- or nil and why (no output, power cut, no prompt).
function M.boot_to_prompt(timeout)
  board:power_on()
  local info = { bad_crc = false }
  -- (the failure's reason is a capture: a line is matched as it arrives,
  -- and a capture that reaches its end waits for the rest of the line --
  -- "BOOT FAILED: no" of "... no bootable slot")
  local m, why = board.console:expect(
    "bad CRC, using default environment|^APP: slot [AB] version [0-9]+\\.[0-9]+|^BOOT FAILED: (.*)",
    { timeout = timeout or 10000 })
  if not m then return nil, "no boot: " .. tostring(why) end
  local text = m.text
  if text:find("bad CRC, using default environment", 1, true) then
    -- The default environment counts down (bootdelay=2): a key stops it,
    -- whether it lands before the countdown or during it.
    info.bad_crc = true
    board.console:send(" ")
  else
    -- (a line is matched while it arrives: the board type's boot_ok
    -- regex, major.minor, is what a version must have)
    local slot, version = text:match("APP: slot ([AB]) version ([0-9]+%.[0-9]+)")
    if slot then
      info.slot, info.version = slot, version
    else
      info.failed = text:match("(BOOT FAILED: .*)")
    end
  end
  local ok, why2 = M.sync(4)
  if not ok then return nil, "no prompt after boot: " .. tostring(why2) end
  return info
end

return M
