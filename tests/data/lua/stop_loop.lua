raise_signal()
while true do end
