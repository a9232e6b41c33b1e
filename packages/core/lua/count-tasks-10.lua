--[[
  Status counts of one type, from BullMQ's own sets (so they are always exact) plus our two small
  zsets that split BullMQ's failed set into failed / cancelled / timeout. Cost: O(1) per status, plus
  O(active) for running-by-priority (bounded by the workers' concurrency, not by the tasks stored).

  Input:
    KEYS[1] completed  KEYS[2] failed  KEYS[3] delayed  KEYS[4] prioritized  KEYS[5] active
    KEYS[6] wait       KEYS[7] paused  KEYS[8] waiting-children  KEYS[9] te:cancelled  KEYS[10] te:timeout
    ARGV[1] job key prefix   ARGV[2] now (ms)

  Output: { pending, queued, running, completed, failed, cancelled, timeout,
            queued_by_bull_priority[1..5] (5 numbers), running_by_bull_priority[1..5] (5 numbers) }
]]
local rcall = redis.call
local now = tonumber(ARGV[2])
local dueDelayed = rcall("ZCOUNT", KEYS[3], 0, (now + 1) * 4096 - 1)
local delayed = rcall("ZCARD", KEYS[3])
local waiting = rcall("LLEN", KEYS[6]) + rcall("LLEN", KEYS[7])
local prioritized = rcall("ZCARD", KEYS[4])
local cancelled = rcall("ZCARD", KEYS[9])
local timedOut = rcall("ZCARD", KEYS[10])
local failed = rcall("ZCARD", KEYS[2]) - cancelled - timedOut
if failed < 0 then failed = 0 end

local out = {
  delayed - dueDelayed + rcall("ZCARD", KEYS[8]),
  prioritized + waiting + dueDelayed,
  rcall("LLEN", KEYS[5]),
  rcall("ZCARD", KEYS[1]),
  failed,
  cancelled,
  timedOut,
}
-- Prioritized scores are priority * 2^32 + counter.
for p = 1, 5 do
  out[#out + 1] = rcall("ZCOUNT", KEYS[4], p * 4294967296, (p + 1) * 4294967296 - 1)
end
-- Plain-list waiting jobs (recovered after a stall) and due delayed ones are counted as NORMAL.
out[10] = out[10] + waiting + dueDelayed
local running = { 0, 0, 0, 0, 0 }
for _, id in ipairs(rcall("LRANGE", KEYS[5], 0, -1)) do
  local p = tonumber(rcall("HGET", ARGV[1] .. id, "priority") or "3") or 3
  if p < 1 then p = 1 elseif p > 5 then p = 5 end
  running[p] = running[p] + 1
end
for p = 1, 5 do out[#out + 1] = running[p] end
return out
