--[[
  Retries one task that ended failed, cancelled or timed out: it goes back into its queue at its
  priority (or waits there while the queue is paused), under the same id, with a fresh retry budget.
  BullMQ's own reprocessJob moves a job from failed to wait; this does that and, in the same atomic
  step, what the engine keeps beside BullMQ, so no reader ever sees the two disagree:
  - the cancelled / timeout side entries that split the failed set (count-tasks reads their sizes:
    left behind, the task would still be counted cancelled or timeout while it is queued);
  - a cancel request still recorded for it, and the deferred failure a cancel sets (either would end
    the new run as cancelled);
  - the list index entry (written again: a no-op when it is there, a repair when it is not);
  - the lifetime counter `retried` (a retry is one more attempt, like an automatic retry).
  What the task object shows of the last run is reset: result, error, error_code, progress, started_at,
  completed_at. `attemptsMade` (BullMQ's retry budget) and the stall count start again at 0;
  `attemptsStarted` keeps counting, so retry_count goes on from where it was.

  Input:
    KEYS[1] failed      KEYS[2] wait        KEYS[3] prioritized   KEYS[4] meta      KEYS[5] active
    KEYS[6] marker      KEYS[7] pc (priority counter)             KEYS[8] events stream
    KEYS[9] te:cancelled  KEYS[10] te:timeout  KEYS[11] te:cancel-requests  KEYS[12] te:stats
    KEYS[13] te:created
    ARGV[1] job key prefix   ARGV[2] job id   ARGV[3] job hash field of a failed attempt's result

  Output: { outcome, previous status }
    outcome: "missing" (no such job) | "not_final" (not in the failed set: queued, running, completed…)
             | "retried" (previous: failed | cancelled | timeout)
]]
local rcall = redis.call
local id = ARGV[2]
local jobKey = ARGV[1] .. id

if rcall("EXISTS", jobKey) == 0 then return { "missing", "" } end
if not rcall("ZSCORE", KEYS[1], id) then return { "not_final", "" } end

local reason = rcall("HGET", jobKey, "failedReason") or ""
local previous = "failed"
if string.sub(reason, 1, 11) == "[cancelled]" then
  previous = "cancelled"
elseif string.sub(reason, 1, 9) == "[timeout]" then
  previous = "timeout"
elseif string.sub(reason, 1, 1) ~= "[" and string.find(reason, "more than allowable limit", 1, true) then
  -- BullMQ failed it at its stall limit on a take that started no attempt (model/failure.ts); once the
  -- reason is gone that take would read as one more retry, so it is taken off the attempts started.
  if (tonumber(rcall("HGET", jobKey, "ats")) or 0) > 0 then rcall("HINCRBY", jobKey, "ats", -1) end
end

rcall("ZREM", KEYS[1], id)
rcall("ZREM", KEYS[9], id)
rcall("ZREM", KEYS[10], id)
rcall("SREM", KEYS[11], id)
rcall("HDEL", jobKey, "failedReason", "finishedOn", "processedOn", "progress", "atm", "stc", "defa", ARGV[3])

-- Back into the queue as BullMQ adds a job: prioritized (score = priority * 2^32 + a counter, so it
-- goes behind the tasks of its priority already waiting), or the wait list for priority 0 (the engine
-- never uses it). A marker wakes the workers, unless the queue is paused: resuming adds one then.
local meta = rcall("HMGET", KEYS[4], "paused", "concurrency")
local held = meta[1] ~= false or (meta[2] ~= false and rcall("LLEN", KEYS[5]) >= tonumber(meta[2]))
local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
if priority == 0 then
  rcall("LPUSH", KEYS[2], id)
else
  rcall("ZADD", KEYS[3], priority * 0x100000000 + rcall("INCR", KEYS[7]) % 0x100000000, id)
end
if not held then rcall("ZADD", KEYS[6], 0, "0") end

local created = tonumber(rcall("HGET", jobKey, "timestamp"))
if created then rcall("ZADD", KEYS[13], 0, string.format("%015d", created) .. ":" .. id) end
rcall("HINCRBY", KEYS[12], "retried", 1)
rcall("XADD", KEYS[8], "MAXLEN", "~", 10000, "*", "event", "waiting", "jobId", id, "prev", "failed")
return { "retried", previous }
