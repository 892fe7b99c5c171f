-- os exists (time, clock, date) but os.execute does not.
local t = os.time()
os.execute("touch /tmp/patchlab-pwned")
return t
