-- Outside the scenarios root: a scenario must never be able to load this
-- (tests/e2e/sandbox reaches it through the scenarios/escape symlink).
return { leaked = true }
