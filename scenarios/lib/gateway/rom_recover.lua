-- The recovery of boards/virtual-gateway-rom.yaml (`recovery: {method: lua,
-- module: lib.gateway.rom_recover, image: factory}`): the factory storage
-- written back through the boot ROM's download mode, over the console
-- (fixtures/virtual/DESIGN.md, "The ROM download mode"), the way a
-- gateway's serial-download loader is used when no programmer is wired:
--
--   1. hold the boot-mode line (board:boot_mode(true): the strap relay)
--      and power on: the ROM says "ROM: download mode (...): ready";
--   2. compare the storage with the image 64 KiB at a time (`crc ADDR
--      LEN`); a chunk that differs is erased when the image has it blank,
--      else compared by 4 KiB sector and its differing sectors written
--      back one 512-byte block a line (`write ADDR <base64>`);
--   3. check the CRC-32 of the whole storage against the image's.
--
-- The lab runs it with the board off, in the scenarios' sandbox and
-- budgets, releases the line and powers the board off after it, and then
-- boots the board to see that it was restored: returning true is not
-- enough to make a board look recovered. Any error (a ROM that does not
-- answer, a refused command, a CRC that still differs) raises: the lab
-- could not recover the board (lab-error, the board set aside).
--
-- recover(args): args as docs/scenario-api.md ("Recovery modules") says:
-- args.image (the image object), args.board, args.vars, ...
local M = {}

local CHUNK, SECTOR, BLOCK = 0x10000, 0x1000, 512
local BLANK_CHUNK = string.rep("\255", CHUNK)

-- Send a command; its answer line, or raise. ok_re: the rest of the
-- answer after "rom: ok ", complete (a line matched as it arrives must
-- not be taken for a shorter one).
local function ask(cmd, ok_re, timeout)
  board.console:sendline(cmd)
  local m, why = board.console:expect("^rom: (ok " .. ok_re .. "|error: .*)",
                                      { timeout = timeout or 5000 })
  if not m then
    error(string.format("the ROM did not answer '%s': %s", cmd:sub(1, 40), tostring(why)))
  end
  if m.text:find("rom: error", 1, true) then
    error(string.format("the ROM refused '%s': %s", cmd:sub(1, 40), m.text))
  end
  return m.text
end

local function board_crc(addr, len)
  local t = ask(string.format("crc 0x%x %d", addr, len),
                "crc 0x[0-9a-f]+ [0-9]+ 0x[0-9a-f]{8}")
  return tonumber(t:match("(0x[0-9a-f]+)%s*$"))
end

local function write_sector(addr, bytes, stats)
  for b = 0, #bytes - 1, BLOCK do
    local block = bytes:sub(b + 1, b + BLOCK)
    ask(string.format("write 0x%x %s", addr + b, codec.base64.encode(block)),
        "wrote 0x[0-9a-f]+ " .. #block .. "$")
    stats.blocks = stats.blocks + 1
  end
end

function M.recover(args)
  local img = args.image
  if not img then
    error("no recovery image: give the board type's recovery an image "
          .. "(a suite image, or the board's own)")
  end
  board:boot_mode(true)
  board:power_on()
  local m, why = board.console:expect("^ROM: download mode", { timeout = 5000 })
  if not m then
    error("the board did not come up in ROM download mode: " .. tostring(why))
  end
  local stats = { erased = 0, blocks = 0, same = 0 }
  for base = 0, img.size - 1, CHUNK do
    local n = math.min(CHUNK, img.size - base)
    local want = img:read(base, n)
    if board_crc(base, n) == codec.crc32(want) then
      stats.same = stats.same + 1
    elseif want == BLANK_CHUNK then
      ask(string.format("erase 0x%x %d", base, n), "erased 0x[0-9a-f]+ [0-9]+$", 10000)
      stats.erased = stats.erased + 1
    else
      for s = 0, n - 1, SECTOR do
        local part = want:sub(s + 1, s + SECTOR)
        if board_crc(base + s, #part) ~= codec.crc32(part) then
          write_sector(base + s, part, stats)
        end
      end
    end
  end
  local crc = board_crc(0, img.size)
  if crc ~= img.crc32 then
    error(string.format("after the restore the storage's CRC-32 is %08x, the image's %08x",
                        crc or 0, img.crc32))
  end
  log.info("rom_recover: %s restored (%d chunks unchanged, %d erased, %d blocks written)",
           img.name, stats.same, stats.erased, stats.blocks)
  board:power_off()
  board:boot_mode(false)
  return true
end

return M
