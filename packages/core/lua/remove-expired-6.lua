--[[
  Retention: removes up to ARGV[4] finished tasks of one type that left retention, with every key and
  index entry they have, so that counts drop at once (BullMQ's own clean-up is lazy). A task's
  workflow keys (dependents set, dependency outcomes, unsettled mark) are built from the job key
  prefix, as BullMQ builds a job's own `:logs` and `:lock`.

  Input:
    KEYS[1] completed  KEYS[2] failed  KEYS[3] te:created  KEYS[4] te:cancelled  KEYS[5] te:timeout
    KEYS[6] te:cancel-requests
    ARGV[1] job key prefix
    ARGV[2] completed cutoff (ms): completed tasks that finished before it go
    ARGV[3] failed cutoff (ms): failed, cancelled and timed-out tasks that finished before it go
    ARGV[4] most tasks to remove in this call

  Output: number of tasks removed
]]
local rcall = redis.call
local prefix = ARGV[1]
local budget = tonumber(ARGV[4])
local removed = 0

local function removeFrom(setKey, cutoff)
  local ids = rcall("ZRANGEBYSCORE", setKey, "-inf", "(" .. cutoff, "LIMIT", 0, budget - removed)
  for _, id in ipairs(ids) do
    local jobKey = prefix .. id
    local created = rcall("HGET", jobKey, "timestamp")
    if created then
      rcall("ZREM", KEYS[3], string.format("%015d", tonumber(created)) .. ":" .. id)
    end
    -- Its workflow keys go with it (TaskKeys.dependents / dependencyOutcomes / unsettled).
    rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":lock", jobKey .. ":te:dependents", jobKey .. ":te:deps")
    rcall("ZREM", prefix .. "te:unsettled", id)
    rcall("ZREM", setKey, id)
    rcall("ZREM", KEYS[4], id)
    rcall("ZREM", KEYS[5], id)
    rcall("SREM", KEYS[6], id)
    removed = removed + 1
  end
end

removeFrom(KEYS[1], ARGV[2])
if removed < budget then removeFrom(KEYS[2], ARGV[3]) end
return removed
