do
  local guard <close> = setmetatable({}, { __close = function() error({ "closing" }) end })
  error("first")
end
