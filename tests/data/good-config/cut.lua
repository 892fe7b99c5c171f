return { name = "cut" }
