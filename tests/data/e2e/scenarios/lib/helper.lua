-- A module inside the scenarios root: require must find it.
return { name = "lib.helper" }
