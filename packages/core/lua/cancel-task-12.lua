--[[
  Cancels one task of a type, atomically with respect to every worker.
  - waiting (queued, delayed, prioritized, paused, waiting-children): taken out of its queue and moved
    to BullMQ's failed set with reason "[cancelled] ..." so it never runs and reads `cancelled`.
  - active: the request is recorded (cancel-requests set) and the job's deferred failure is set, so
    that if its worker dies the job, once recovered, fails as cancelled instead of running again.
  - finished: nothing changes.

  Input:
    KEYS[1] completed  KEYS[2] failed  KEYS[3] delayed  KEYS[4] prioritized  KEYS[5] active
    KEYS[6] wait       KEYS[7] paused  KEYS[8] waiting-children
    KEYS[9] te:cancelled  KEYS[10] te:cancel-requests  KEYS[11] events stream  KEYS[12] te:stats
    ARGV[1] job key prefix   ARGV[2] job id   ARGV[3] now (ms)   ARGV[4] failed reason

  Output: { outcome, previous status }
    outcome: "missing" | "cancelled" (was waiting) | "requested" (was running) | "final" (already ended)
]]
local rcall = redis.call
local id = ARGV[2]
local jobKey = ARGV[1] .. id
local now = tonumber(ARGV[3])
local reason = ARGV[4]

if rcall("EXISTS", jobKey) == 0 then return { "missing", "" } end
if rcall("ZSCORE", KEYS[1], id) then return { "final", "completed" } end
if rcall("ZSCORE", KEYS[2], id) then
  local failedReason = rcall("HGET", jobKey, "failedReason") or ""
  if string.sub(failedReason, 1, 11) == "[cancelled]" or string.sub(failedReason, 1, 19) == "[dependency_failed]" then return { "final", "cancelled" } end
  if string.sub(failedReason, 1, 9) == "[timeout]" then return { "final", "timeout" } end
  return { "final", "failed" }
end
if rcall("LPOS", KEYS[5], id) then
  rcall("SADD", KEYS[10], id)
  rcall("HSET", jobKey, "defa", reason)
  return { "requested", "running" }
end

local previous = nil
local score = rcall("ZSCORE", KEYS[3], id)
if score then
  if math.floor(tonumber(score) / 4096) <= now then previous = "queued" else previous = "pending" end
  rcall("ZREM", KEYS[3], id)
elseif rcall("ZREM", KEYS[4], id) == 1 then
  previous = "queued"
elseif rcall("LREM", KEYS[6], 0, id) > 0 or rcall("LREM", KEYS[7], 0, id) > 0 then
  previous = "queued"
elseif rcall("ZREM", KEYS[8], id) == 1 then
  previous = "pending"
else
  return { "missing", "" }
end

rcall("ZADD", KEYS[2], now, id)
rcall("HSET", jobKey, "failedReason", reason, "finishedOn", now)
rcall("HDEL", jobKey, "defa")
rcall("ZADD", KEYS[9], now, id)
-- Lifetime counter "cancelled:<priority>" (the task's 0..4 is BullMQ's priority - 1).
rcall("HINCRBY", KEYS[12], "cancelled:" .. math.max(0, (tonumber(rcall("HGET", jobKey, "priority")) or 3) - 1), 1)
rcall("XADD", KEYS[11], "MAXLEN", "~", 10000, "*", "event", "failed", "jobId", id, "failedReason", reason, "prev", previous)
return { "cancelled", previous }
