-- a valid scenario the bad suites reference
return {}
