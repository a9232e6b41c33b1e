--[[
  Repairs the side entries that split BullMQ's failed set into cancelled / timeout (count-tasks reads
  their sizes). A worker writes its entry just before BullMQ moves the job to failed; if the worker
  dies in between, or the move is refused, the entry names a task that is not (or not so) failed and
  the counts are off by one until retention. An entry is kept only if its job is in the failed set
  with the matching reason ("[cancelled] ..." / "[timeout] ...").

  Cheap: each entry is looked at once, when it gets older than the grace (the watermark key holds how
  far the last pass got), so a pass costs O(entries written since the last pass), not O(retained).
  The grace must exceed the time a legitimate move can still land after its entry was written.

  Input:
    KEYS[1] failed   KEYS[2] te:cancelled   KEYS[3] te:timeout   KEYS[4] te:outcomes-checked (watermark)
    ARGV[1] job key prefix
    ARGV[2] check entries written up to this time (ms): now - grace
    ARGV[3] most entries per set to look at in this call

  Output: { entries removed, 1 if more entries are due (call again) else 0 }
]]
local rcall = redis.call
local prefix = ARGV[1]
local upTo = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local from = tonumber(rcall("GET", KEYS[4]) or "-1")
if upTo <= from then return { 0, 0 } end
-- Nothing to check (a type never used, say): no watermark key either; later entries are newer anyway.
if rcall("ZCARD", KEYS[2]) == 0 and rcall("ZCARD", KEYS[3]) == 0 then return { 0, 0 } end

local removed = 0
local reached = upTo

-- Drops the entries of `setKey` among `entries` (ZRANGEBYSCORE ... WITHSCORES) whose task is not in
-- the failed set with a reason starting with `reasonPrefix`.
local function drop(setKey, reasonPrefix, entries)
  for i = 1, #entries, 2 do
    local id = entries[i]
    local reason = rcall("ZSCORE", KEYS[1], id) and rcall("HGET", prefix .. id, "failedReason") or ""
    -- A task cancelled because a dependency failed ("[dependency_failed] ...") is counted as cancelled.
    local cancelledByDependency = reasonPrefix == "[cancelled]" and string.sub(reason, 1, 19) == "[dependency_failed]"
    if string.sub(reason, 1, #reasonPrefix) ~= reasonPrefix and not cancelledByDependency then
      rcall("ZREM", setKey, id)
      removed = removed + 1
    end
  end
end

local function check(setKey, reasonPrefix)
  local entries = rcall("ZRANGEBYSCORE", setKey, "(" .. from, upTo, "WITHSCORES", "LIMIT", 0, budget)
  drop(setKey, reasonPrefix, entries)
  if #entries / 2 < budget then return end
  -- Cut short: the next call goes on just below the last score seen (entries sharing it are looked at
  -- again, which is harmless). If that would not move forward, every entry of that score is checked
  -- now, so the next call can start above it.
  local last = tonumber(entries[#entries])
  local resume = last - 1
  if resume <= from then
    drop(setKey, reasonPrefix, rcall("ZRANGEBYSCORE", setKey, last, last, "WITHSCORES"))
    resume = last
  end
  if resume < reached then reached = resume end
end

check(KEYS[2], "[cancelled]")
check(KEYS[3], "[timeout]")
rcall("SET", KEYS[4], string.format("%.0f", reached))
if reached < upTo then return { removed, 1 } end
return { removed, 0 }
