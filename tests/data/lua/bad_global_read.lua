local n = 3
pirnt("typo", n)
