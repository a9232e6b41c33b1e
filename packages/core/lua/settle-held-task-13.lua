--[[
  Decides, in a held task's own slot, what one piece of news means for it: a dependency ended, the
  task's batch granted it a slot, or nothing new ("check"). A held task is a BullMQ job parked in the
  `waiting-children` zset (no BullMQ flow ever uses that set here, so nothing else moves it); it reads
  `pending`. When the last requirement is met it is released into its queue at its priority (or into
  `delayed` if its scheduled time is still ahead), exactly once: only the call that takes it out of
  `waiting-children` releases it, so settling the same news twice is harmless.

  A dependency that ended failed, cancelled or timeout ends the held task `cancelled` with
  "[dependency_failed] ...", counted like a cancel; the caller then settles that task's own dependents.

  Release mirrors BullMQ's own moveParentToWait (priority score from the `pc` counter, the worker
  marker unless the queue is paused or at its global concurrency, the delayed score and marker); keep
  it in step with BullMQ when upgrading.

  Input:
    KEYS[1] job key   KEYS[2] te:deps (dependency id -> how it ended)   KEYS[3] waiting-children
    KEYS[4] prioritized   KEYS[5] delayed   KEYS[6] marker   KEYS[7] meta   KEYS[8] active   KEYS[9] pc
    KEYS[10] events stream   KEYS[11] failed   KEYS[12] te:cancelled   KEYS[13] te:stats
    ARGV[1] job id   ARGV[2] news: "dependency" | "slot" | "check"
    ARGV[3] dependency id   ARGV[4] how it ended: completed | failed | cancelled | timeout   (dependency)
    ARGV[5] now (ms)   ARGV[6] failed reason to give the task if the dependency did not complete

  Output:
    { "missing" }                       no such task
    { "not_held" }                      already released, cancelled or ended: nothing to do
    { "waiting" }                       still waiting for dependencies
    { "ready", gate }                   dependencies met, waiting for a slot of its batch (te_gate)
    { "released", "queued" | "pending" }
    { "cancelled", reason, finishedOn }
]]
local rcall = redis.call
local jobKey = KEYS[1]
local id = ARGV[1]
local news = ARGV[2]
local now = tonumber(ARGV[5])

if rcall("EXISTS", jobKey) == 0 then return { "missing" } end
if not rcall("ZSCORE", KEYS[3], id) then return { "not_held" } end

if news == "dependency" then
  rcall("HSET", KEYS[2], ARGV[3], ARGV[4])
  if ARGV[4] ~= "completed" then
    local reason = ARGV[6]
    rcall("ZREM", KEYS[3], id)
    rcall("ZADD", KEYS[11], now, id)
    rcall("HSET", jobKey, "failedReason", reason, "finishedOn", now)
    rcall("ZADD", KEYS[12], now, id)
    rcall("HINCRBY", KEYS[13], "cancelled:" .. math.max(0, (tonumber(rcall("HGET", jobKey, "priority")) or 3) - 1), 1)
    rcall("XADD", KEYS[10], "MAXLEN", "~", 10000, "*", "event", "failed", "jobId", id, "failedReason", reason, "prev", "waiting-children")
    return { "cancelled", reason, tostring(now) }
  end
elseif news == "slot" then
  rcall("HSET", jobKey, "te_slot", "1")
end

local fields = rcall("HMGET", jobKey, "te_need", "te_gate", "te_slot", "priority", "delay", "timestamp")
if rcall("HLEN", KEYS[2]) < (tonumber(fields[1]) or 0) then return { "waiting" } end
if fields[2] and fields[3] ~= "1" then return { "ready", fields[2] } end

-- Release.
rcall("ZREM", KEYS[3], id)
local delay = tonumber(fields[5]) or 0
local runAt = (tonumber(fields[6]) or now) + delay
if delay > 0 and runAt > now then
  -- BullMQ's delayed score: the time in the high bits, an order within the millisecond below.
  local minScore = runAt * 0x1000
  local maxScore = (runAt + 1) * 0x1000 - 1
  local score = minScore
  local last = rcall("ZREVRANGEBYSCORE", KEYS[5], maxScore, minScore, "WITHSCORES", "LIMIT", 0, 1)
  if #last > 0 then score = math.min(maxScore, tonumber(last[2]) + 1) end
  rcall("ZADD", KEYS[5], score, id)
  local first = rcall("ZRANGE", KEYS[5], 0, 0, "WITHSCORES")
  if #first > 0 then rcall("ZADD", KEYS[6], tonumber(first[2]) / 0x1000, "1") end
  rcall("XADD", KEYS[10], "MAXLEN", "~", 10000, "*", "event", "delayed", "jobId", id, "delay", runAt)
  return { "released", "pending" }
end

local priority = tonumber(fields[4]) or 3
rcall("ZADD", KEYS[4], priority * 0x100000000 + rcall("INCR", KEYS[9]) % 0x100000000, id)
local meta = rcall("HMGET", KEYS[7], "paused", "concurrency")
local held = meta[1] or (meta[2] and rcall("LLEN", KEYS[8]) >= tonumber(meta[2]))
if not held then rcall("ZADD", KEYS[6], 0, "0") end
rcall("XADD", KEYS[10], "MAXLEN", "~", 10000, "*", "event", "waiting", "jobId", id, "prev", "waiting-children")
return { "released", "queued" }
