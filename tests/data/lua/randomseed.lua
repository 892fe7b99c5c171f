math.randomseed(42)
