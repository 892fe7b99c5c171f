-- codec: the vectors of RFC 4648 (base64, hex), the CRC-32 check value,
-- FIPS 180-2 (SHA-256); a failed assert names the line.
local b64, hex = codec.base64, codec.hex
local rfc = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
              fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
for plain, enc in pairs(rfc) do
  assert(b64.encode(plain) == enc, plain)
  assert(b64.decode(enc) == plain, enc)
end
assert(hex.encode("foobar") == "666f6f626172")
assert(hex.decode("666F6F626172") == "foobar")
assert(hex.decode("") == "" and hex.encode("") == "")

-- every byte value, through both
local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)
assert(b64.decode(b64.encode(all)) == all)
assert(hex.decode(hex.encode(all)) == all)
assert(#hex.encode(all) == 512 and hex.encode(all):find("^[0-9a-f]+$"))

-- what does not decode: nil and a message
local bad_b64 = { "Zg=", "Zg=a", "Z===", "=Zm8", "Zm9v\n", " Zm9v", "Zm-v", "Zm9vYmFy====" }
for _, s in ipairs(bad_b64) do
  local v, err = b64.decode(s)
  assert(v == nil and err:find("^codec%.base64%.decode: "), s)
end
for _, s in ipairs({ "abc", "zz", "0x", "a\0" }) do
  local v, err = hex.decode(s)
  assert(v == nil and err:find("^codec%.hex%.decode: "), s)
end

-- CRC-32 (zlib): check value, continuation, range of init
assert(codec.crc32("123456789") == 0xCBF43926)
assert(codec.crc32("") == 0)
assert(codec.crc32("56789", codec.crc32("1234")) == 0xCBF43926)
assert(not pcall(codec.crc32, "x", -1))
assert(not pcall(codec.crc32, "x", 0x100000000))
assert(not pcall(codec.crc32, {}))

-- SHA-256: hex by default, raw bytes on request
assert(codec.sha256("abc") ==
  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
assert(codec.sha256("") ==
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
local raw = codec.sha256("abc", "raw")
assert(#raw == 32 and hex.encode(raw) == codec.sha256("abc"))
assert(select("#", codec.sha256("abc")) == 1)
assert(not pcall(codec.sha256, "abc", "base64"))

-- read-only, like the other libraries
assert(not pcall(function() codec.crc32 = nil end))
assert(not pcall(function() codec.base64.encode = nil end))
assert(not pcall(rawset, codec, "x", 1))
assert(not pcall(rawset, codec.hex, "x", 1))
assert(getmetatable(codec) == false and getmetatable(codec.base64) == false)
local names = {}
for k, v in pairs(codec) do names[#names + 1] = k; assert(v ~= nil) end
table.sort(names)
return table.concat(names, ","), codec.sha256("abc"), codec.crc32("123456789"),
  b64.encode("\0\1\2\255")
