local x = 0
coroutine.wrap(function() error({}) end)()
