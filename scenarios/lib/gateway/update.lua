-- The update of boards/virtual-gateway.yaml (`update: {lua: lib.gateway.update}`):
-- the image sent over the console as text lines, the way a gateway's shell
-- updater takes it (fixtures/virtual/DESIGN.md, "The gateway family"):
--
--   fwupdate begin SIZE SHA256     "fwupdate: preparing slot B" (the slot is
--                                  marked not bootable, then discarded),
--                                  "fwupdate: ready slot=B"
--   fwupdate data <base64>         one line per chunk (192 bytes: 256
--                                  characters), each answered
--                                  "fwupdate: ack N of SIZE bytes" once the
--                                  board wrote what it could
--   fwupdate end                   readback, SHA-256 and image check, then
--                                  "fwupdate: activating slot B", the
--                                  environment write(s), and
--                                  "fwupdate: ok slot=B version=V"
--
-- Each line waits for its answer, so the transfer goes at the board's pace
-- and nothing piles up. Each acknowledged byte count goes to
-- board:transfer_progress(), so fault.cut{on = "bytes", offset = N} (and
-- {on = "progress", percent = P}) cuts
-- this transfer as it does the built-in XMODEM one. The image's bytes come from img:read(offset, len)
-- (img.sha256 when the image object has it, else codec.sha256 over the
-- bytes read).
--
-- update(img, opts) needs the board at its shell (after a boot). opts (all
-- optional):
--   chunk = N            bytes per data line (default 192, at most 768)
--   on_chunk = f         f(sent, size) after each acknowledged line; when
--                        it returns a value the update stops there and
--                        returns false and that value
-- Returns true and the slot written, or false and why: the expect's reason
-- ("power cut", "timeout: ...") when the board went silent, "refused: ..."
-- when the board said `fwupdate: failed: ...`.
local M = {}

local DEFAULT_CHUNK = 192

local function sha_hex(img)
  local s = img.sha256
  if type(s) == "string" and #s == 64 then return s:lower() end
  if type(s) == "string" and #s == 32 then return codec.hex.encode(s) end
  local parts, off = {}, 0
  while off < img.size do
    local n = math.min(65536, img.size - off)
    parts[#parts + 1] = img:read(off, n)
    off = off + n
  end
  return codec.sha256(table.concat(parts))
end

-- Wait for the answer to a step: the match, or nil and why.
local function answer(ok_pattern, timeout)
  local m, why = board.console:expect(
    "^fwupdate: (" .. ok_pattern .. "|failed: .*)", { timeout = timeout })
  if not m then return nil, why end
  local failed = m.text:match("fwupdate: failed: (.*)")
  if failed then return nil, "refused: " .. failed end
  return m
end

function M.update(img, opts)
  opts = opts or {}
  if type(img.read) ~= "function" then
    error("lib.gateway.update: this patchlab's image objects have no "
          .. "img:read(offset, len): the update cannot read the image's bytes")
  end
  local chunk = opts.chunk or DEFAULT_CHUNK
  if chunk < 1 or chunk > 768 then
    error("lib.gateway.update: chunk must be 1 to 768 bytes")
  end
  local size = img.size
  local r = board:region("slot-b")
  if r and size > r.size then
    return false, string.format("refused: image of %d bytes does not fit a slot (%d)",
                                size, r.size)
  end
  log.info("update: %s (%d bytes) as base64 lines of %d bytes", img.name, size, chunk)

  board.console:sendline(string.format("fwupdate begin %d %s", size, sha_hex(img)))
  local m, why = answer("ready slot=([AB])", 10000)
  if not m then return false, why end
  local slot = m.text:match("ready slot=([AB])")

  local off = 0
  while off < size do
    local n = math.min(chunk, size - off)
    board.console:sendline("fwupdate data " .. codec.base64.encode(img:read(off, n)))
    off = off + n
    m, why = answer("ack " .. off .. " of [0-9]+ bytes", 10000)
    if not m then return false, why end
    -- what the board acknowledged, of the image's size: fault.cut{on =
    -- "bytes"} and fault.cut{on = "progress"} fire on it
    board:transfer_progress(off, size)
    if opts.on_chunk then
      local stop = opts.on_chunk(off, size)
      if stop ~= nil then return false, stop end
    end
  end

  board.console:sendline("fwupdate end")
  m, why = answer("ok slot=[AB] version=[0-9.]+", 20000)
  if not m then return false, why end
  return true, slot
end

return M
