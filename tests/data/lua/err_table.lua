local t = {}
error({ code = 3 })
