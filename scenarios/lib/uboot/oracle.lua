-- The oracle for QEMU + U-Boot boards (boards/qemu-uboot*.yaml), which have
-- no probe: the baseline is written through U-Boot itself, as a factory
-- would provision a board over its console, or, on the -exec board types,
-- by their recovery (the factory flash file written while QEMU is off);
-- every judgement is made from what U-Boot prints. Images
-- (scenarios/suites/uboot.yaml, made by tests/e2e/uboot/make-images; the
-- factory flash files, images.factory per board, by scripts/uboot-lab):
--   images.golden      the factory application, in slot A
--   images.new         the update
--   images.env         the A/B environment (mkenvimage -s 0x40000)
--   images.env_redund  the same for the redundant variant (mkenvimage -r)
local sh = require("lib.uboot.shell")

local M = {}

M.shell = sh

-- Bytes of an environment image sent at baseline (see M.baseline).
M.ENV_HEAD = 4096

-- Is this the redundant-environment board type (a second env copy)?
function M.redundant()
  return board:region("env-redund") ~= nil
end

-- Power on and get to the prompt; see lib.uboot.shell.boot_to_prompt.
function M.boot(timeout)
  return sh.boot_to_prompt(timeout)
end

-- A provisioning step that failed: nothing is being cut during a baseline,
-- so it is the lab's (a Lua error ends the run `lab-error`), not a device
-- verdict.
local function lab_check(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 2) end
end

-- Load img into RAM and write it at region `name`, whole region erased
-- first, then compared.
local function provision(img, names)
  local ok, why = sh.loadx(img, "${loadaddr}")
  lab_check(ok, "baseline: loadx of %s: %s", img.name, why)
  for _, name in ipairs(names) do
    local r = board:region(name)
    lab_check(r, "board type %s has no region %s", board.type, name)
    local addr = string.format("0x%08x", r.address)
    -- U-Boot write-protects its environment sectors (saveenv lifts that)
    ok, why = sh.ok(string.format("protect off %s +0x%x", addr, r.size))
    lab_check(ok, "baseline: protect off %s: %s", name, why)
    ok, why = sh.ok(string.format("erase %s +0x%x", addr, r.size), 20000)
    lab_check(ok, "baseline: erase %s: %s", name, why)
    ok, why = sh.ok(string.format("cp.b ${loadaddr} %s 0x%x", addr, img.size), 30000)
    lab_check(ok, "baseline: cp.b into %s: %s", name, why)
    -- as slow as the copy: a loaded 2-core CI box under ASan took > 10 s
    ok, why = sh.ok(string.format("cmp.b ${loadaddr} %s 0x%x", addr, img.size), 30000)
    lab_check(ok, "baseline: %s differs from %s: %s", name, img.name, why)
  end
end

-- Does region `name` hold img, a legacy U-Boot image? Its 64-byte header
-- (sizes, time stamp, data CRC, and its own CRC) is compared, and `iminfo`
-- checks the data against the header's CRC: one XMODEM block instead of
-- the whole image.
function M.holds(img, name)
  local r = board:region(name)
  lab_check(r, "board type %s has no region %s", board.type, name)
  local head = image.mutate(img, { truncate = 64 })
  local ok, why = sh.loadx(head, "${loadaddr}")
  lab_check(ok, "baseline: loadx of %s's header: %s", img.name, why)
  local addr = string.format("0x%08x", r.address)
  return sh.ok(string.format("cmp.b ${loadaddr} %s 0x40", addr)) and
         sh.ok(string.format("iminfo %s", addr), 10000)
end

-- The factory state, whatever the previous run left: the A/B environment
-- in every environment copy, images.golden in slot A, slot B erased. A board
-- whose type can restore it (boards/qemu-uboot*-exec.yaml: the factory
-- flash file written while QEMU is off, as an SD mux or an external
-- programmer would) gets it through board:restore(); any other is
-- provisioned through U-Boot over the console (images.golden written unless
-- it is there already). Then a fresh boot must run slot A's application
-- with the factory version and a valid environment (checks: device
-- verdicts). Returns that boot (at the prompt).
function M.baseline()
  board:power_off()
  if board:can_restore() then
    -- a restore that fails is the lab's: the run ends lab-error and the
    -- board is set aside (board:restore() raises)
    board:restore()
    log.info("baseline: factory flash restored by %s's recovery", board.type)
    return M.check_factory_boot()
  end
  local b, why = M.boot()
  check(b, "baseline: U-Boot does not reach its prompt: %s", why)
  local envimg = M.redundant() and images.env_redund or images.env
  lab_check(envimg, "the suite has no image %s", M.redundant() and "env_redund" or "env")
  -- An environment image is its variables then 0xFF padding up to 256 KiB,
  -- and an erased region reads 0xFF: its head is enough (XMODEM moves
  -- ~55 KB/s here). make-images checks the variables end before ENV_HEAD;
  -- the boot below checks the CRC of the whole copy.
  envimg = image.mutate(envimg, { truncate = M.ENV_HEAD })
  if M.redundant() then
    provision(envimg, { "env", "env-redund" })
  else
    provision(envimg, { "env" })
  end
  if not M.holds(images.golden, "slot-a") then
    provision(images.golden, { "slot-a" })
  end
  local rb = board:region("slot-b")
  local ok
  ok, why = sh.ok(string.format("erase 0x%08x +0x%x", rb.address, rb.size), 20000)
  lab_check(ok, "baseline: erase slot-b: %s", why)

  return M.check_factory_boot()
end

-- Power on after a baseline: U-Boot at its prompt with a valid environment,
-- slot A's factory application booted. Returns that boot.
function M.check_factory_boot()
  board:power_off()
  local b, why = M.boot()
  check(b, "baseline did not boot: %s", why)
  check(not b.bad_crc, "baseline: the provisioned environment has a bad CRC")
  check(b.slot == "A" and b.version == images.golden.version,
        "baseline booted %s, expected slot A version %s",
        b.slot and (b.slot .. " " .. b.version) or (b.failed or "nothing"),
        images.golden.version)
  return b
end

-- Wait until trigger t cut the power (at most ms); when it has not fired
-- by then (aimed past the end of what it watched), cut now. Returns true
-- when the trigger fired.
-- Either way the board is off when this returns (the power_off also waits
-- until the cut's power command completed, e.g. QEMU was reaped).
function M.await_cut(t, ms)
  if not t:fired() then
    board.console:expect("^@@pl-never-printed$", { timeout = ms })
  end
  local fired = t:fired()
  if not fired then
    t:disarm()
    log.info("the trigger did not fire within %d ms: cutting now", ms)
  end
  board:power_off()
  return fired
end

-- The image a slot should hold when it boots version v: the factory image
-- in A, or the update in the slot it went to.
function M.known_version(v)
  return v == images.golden.version or (images.new and v == images.new.version)
end

return M
