--[[
  For the janitor: which of some unsettled tasks of one type have ended, and how. Their follow-up work
  (settling dependents, freeing a batch slot) is then done again, in case the process that ended them
  died before finishing it. Entries whose task is gone are dropped.

  Input:
    KEYS[1] te:unsettled   KEYS[2] completed   KEYS[3] failed
    ARGV[1] job key prefix   ARGV[2...] ids

  Output: { id, how it ended (completed | failed | cancelled | timeout), ... }
]]
local rcall = redis.call
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local jobKey = ARGV[1] .. id
  if rcall("ZSCORE", KEYS[2], id) then
    out[#out + 1] = id
    out[#out + 1] = "completed"
  elseif rcall("ZSCORE", KEYS[3], id) then
    local reason = rcall("HGET", jobKey, "failedReason") or ""
    local how = "failed"
    if string.sub(reason, 1, 9) == "[timeout]" then how = "timeout"
    elseif string.sub(reason, 1, 11) == "[cancelled]" or string.sub(reason, 1, 19) == "[dependency_failed]" then how = "cancelled" end
    out[#out + 1] = id
    out[#out + 1] = how
  elseif rcall("EXISTS", jobKey) == 0 then
    rcall("ZREM", KEYS[1], id)
  end
end
return out
