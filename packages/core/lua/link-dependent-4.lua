--[[
  Registers a dependent with one of its dependencies, in the dependency's slot, and answers the
  dependency's state in the same step. The register-then-read order is what makes dependencies
  race-free across processes: either this script runs before the dependency ends (then the finisher,
  which reads the dependents set after BullMQ's move, sees the registration) or after (then this
  answer says how it ended and the caller settles the dependent itself). Both may happen; settling
  is idempotent.

  Input:
    KEYS[1] te:dependents of the dependency   KEYS[2] te:unsettled of the dependency's type
    KEYS[3] completed   KEYS[4] failed
    ARGV[1] dependency job key   ARGV[2] dependency id   ARGV[3] dependent as "<type>:<id>"
    ARGV[4] now (ms)

  Output: "completed" | "failed" | "cancelled" | "timeout" (it has ended: nothing registered),
          "pending" (registered; the finisher will settle the dependent), "missing" (no such task now)
]]
local rcall = redis.call
local id = ARGV[2]
if rcall("EXISTS", ARGV[1]) == 0 then return "missing" end
if rcall("ZSCORE", KEYS[3], id) then return "completed" end
if rcall("ZSCORE", KEYS[4], id) then
  local reason = rcall("HGET", ARGV[1], "failedReason") or ""
  if string.sub(reason, 1, 9) == "[timeout]" then return "timeout" end
  if string.sub(reason, 1, 11) == "[cancelled]" or string.sub(reason, 1, 19) == "[dependency_failed]" then return "cancelled" end
  return "failed"
end
rcall("SADD", KEYS[1], ARGV[3])
-- Marks the dependency as having follow-up work at its end (see settle-finished / the janitor).
rcall("ZADD", KEYS[2], "NX", ARGV[4], id)
return "pending"
