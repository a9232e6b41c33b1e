--[[
  Settles cancel requests whose task ended without its worker seeing them: a task that failed for
  another reason after a cancel (e.g. its worker died and it hit the stall limit) becomes cancelled;
  requests of completed or vanished tasks are dropped. Running ones stay. Cost: O(requests).

  Input:
    KEYS[1] te:cancel-requests  KEYS[2] failed  KEYS[3] completed  KEYS[4] te:cancelled
    ARGV[1] job key prefix   ARGV[2] failed reason for a cancelled task

  Output: number of tasks turned cancelled
]]
local rcall = redis.call
local turned = 0
for _, id in ipairs(rcall("SMEMBERS", KEYS[1])) do
  local jobKey = ARGV[1] .. id
  local finishedOn = rcall("ZSCORE", KEYS[2], id)
  if finishedOn then
    local reason = rcall("HGET", jobKey, "failedReason") or ""
    local cancelled = string.sub(reason, 1, 11) == "[cancelled]" or string.sub(reason, 1, 19) == "[dependency_failed]"
    if not cancelled and string.sub(reason, 1, 9) ~= "[timeout]" then
      rcall("HSET", jobKey, "failedReason", ARGV[2])
      turned = turned + 1
    end
    if string.sub(reason, 1, 9) ~= "[timeout]" then rcall("ZADD", KEYS[4], finishedOn, id) end
    rcall("SREM", KEYS[1], id)
  elseif rcall("ZSCORE", KEYS[3], id) or rcall("EXISTS", jobKey) == 0 then
    rcall("SREM", KEYS[1], id)
  end
end
return turned
