local n = 3
counter = n + 1
