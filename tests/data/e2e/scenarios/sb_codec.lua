-- sandbox: the codec table, as an update module would use it on a board
board:power_on()
local boot, why = board:wait_boot()
check(boot, "the board did not boot: %s", why)
local line = codec.base64.encode(boot.version)
check(codec.base64.decode(line) == boot.version, "base64 round trip")
check(codec.crc32("123456789") == 0xCBF43926, "crc32 check value")
check(codec.sha256("abc"):sub(1, 8) == "ba7816bf", "sha256")
verdict.pass("codec ok: %s %s", codec.base64.encode("patchlab"), codec.hex.encode("lab"))
