--[[
  The slot gate of a capped batch (`max_concurrency`): at most `limit` of its tasks hold a slot, i.e.
  are released (queued or running); the others wait `pending`, and each task that ends frees its slot
  for the next ready one, lowest batch index first. The gate lives in one slot (that of the batch's
  first task's type); granting a slot to a task of another type is the caller's next, separate step
  (settle-held-task with news "slot"), so this script only decides who gets one.

  Idempotent: a member that left is never made ready or granted again, and leaving twice counts once.
  The gate deletes itself when its last member has left.

  Input:
    KEYS[1] gate hash {limit, remaining}   KEYS[2] ready zset   KEYS[3] holders set   KEYS[4] left set
    ARGV[1] op: "ready" (ARGV[2...] = member, index, member, index, ...)
                "leave" (ARGV[2] = member)
                "repair" (ARGV[2] = member that ended: leave, then answer every holder)

  Output: members granted a slot by this call ("repair": every holder, to re-send their grants)
]]
local rcall = redis.call
local op = ARGV[1]
if rcall("EXISTS", KEYS[1]) == 0 then return {} end

if op == "ready" then
  for i = 2, #ARGV, 2 do
    local member = ARGV[i]
    if rcall("SISMEMBER", KEYS[4], member) == 0 and rcall("SISMEMBER", KEYS[3], member) == 0 then
      rcall("ZADD", KEYS[2], "NX", ARGV[i + 1], member)
    end
  end
elseif rcall("SADD", KEYS[4], ARGV[2]) == 1 then
  rcall("ZREM", KEYS[2], ARGV[2])
  rcall("SREM", KEYS[3], ARGV[2])
  if rcall("HINCRBY", KEYS[1], "remaining", -1) <= 0 then
    rcall("DEL", KEYS[1], KEYS[2], KEYS[3], KEYS[4])
    return {}
  end
end

local granted = {}
local limit = tonumber(rcall("HGET", KEYS[1], "limit")) or 1
while rcall("SCARD", KEYS[3]) < limit do
  local next = rcall("ZPOPMIN", KEYS[2])
  if #next == 0 then break end
  rcall("SADD", KEYS[3], next[1])
  granted[#granted + 1] = next[1]
end
if op == "repair" then return rcall("SMEMBERS", KEYS[3]) end
return granted
