-- The board types name `update: {lua: uboot.ab_update}` and lib.oracle's
-- update() does require(board.update_module), which resolves
-- <scenarios>/uboot/ab_update.lua. The module lives with the other shared
-- code under lib/ (docs/qemu-uboot.md, scenario-api.md); this file only
-- forwards to it.
return require("lib.uboot.ab_update")
