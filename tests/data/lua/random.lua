local out = {}
for i = 1, 8 do out[i] = math.random(1, 1000000) end
out[9] = math.random()
out[10] = math.random(0)
return out
