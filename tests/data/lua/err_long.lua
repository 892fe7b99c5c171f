error(string.rep("x", 100000) .. "\nsecond line")
