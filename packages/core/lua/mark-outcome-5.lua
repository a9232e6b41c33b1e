--[[
  Writes what a worker records about a failed attempt just before BullMQ moves the job (the side entry
  that splits the failed set into cancelled / timeout, the settled cancel request, the failed result),
  but only while that worker still holds the job's lock. A worker whose link to Redis was cut past the
  lock duration has lost the task to another worker: its late writes would count a timeout or a cancel
  for a task that is now someone else's (and its move fails on the lock anyway), so nothing is written.

  Input:
    KEYS[1] job key   KEYS[2] job lock key   KEYS[3] te:cancelled   KEYS[4] te:timeout
    KEYS[5] te:cancel-requests
    ARGV[1] lock token ("0": no lock check, as BullMQ's own scripts)
    ARGV[2] job id   ARGV[3] now (ms)
    ARGV[4] outcome: "cancelled" | "timeout" | "" (no side entry)
    ARGV[5] result of the failed attempt, JSON ("" none)   ARGV[6] job hash field for it

  Output: 1 written; 0 the lock is not this worker's (nothing written)
]]
local rcall = redis.call
if ARGV[1] ~= "0" and rcall("GET", KEYS[2]) ~= ARGV[1] then return 0 end
if rcall("EXISTS", KEYS[1]) == 0 then return 0 end
local id = ARGV[2]
if ARGV[4] == "cancelled" then
  rcall("ZADD", KEYS[3], ARGV[3], id)
  rcall("SREM", KEYS[5], id)
elseif ARGV[4] == "timeout" then
  rcall("ZADD", KEYS[4], ARGV[3], id)
end
if ARGV[5] ~= "" then rcall("HSET", KEYS[1], ARGV[6], ARGV[5]) end
return 1
