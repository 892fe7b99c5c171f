-- The update module test-board.yaml names (update: {lua: vendor.update}):
-- `patchlab check` resolves it under the suite's scenarios directory.
local M = {}

function M.update(img, opts)
  return false, "test-board has no update of its own"
end

return M
