print("hello", 42, nil)
return true
