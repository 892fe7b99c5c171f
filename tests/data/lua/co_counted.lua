-- 3000 coroutines of 900 loop steps: ~2.7 million instructions, each
-- coroutine fewer than one hook step. Over a budget of 2 million.
for _ = 1, 3000 do
  coroutine.wrap(function() for _ = 1, 900 do end end)()
end
return "not counted"
