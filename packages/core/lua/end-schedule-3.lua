--[[
  Ends a schedule: removes BullMQ's job scheduler record and the engine's schedule hash in one step, so no
  process can make another run after it, and answers which task was waiting for the next tick.
  Not BullMQ's removeJobScheduler: it also deletes that waiting task's job outright, which would leave the
  task's index entry and creation count describing a task that is gone. The caller cancels the task
  instead, through the engine's cancel path, so it ends `cancelled` and every count stays true.

  Input:
    KEYS[1] BullMQ's job schedulers (zset `repeat`: id -> next tick)   KEYS[2] te:schedule:<id>
    KEYS[3] delayed
    ARGV[1] schedule id

  Output: { found (1 | 0), id of the task made for the next tick ("" none),
            when that task is due (ms; -1 when it is no longer delayed: due, running or ended) }
]]
local rcall = redis.call
local id = ARGV[1]
local nextTick = rcall("ZSCORE", KEYS[1], id)
rcall("DEL", KEYS[2])
if not nextTick then return { 0, "", -1 } end
rcall("ZREM", KEYS[1], id)
rcall("DEL", KEYS[1] .. ":" .. id)
local taskId = "repeat:" .. id .. ":" .. nextTick
local score = rcall("ZSCORE", KEYS[3], taskId)
local due = -1
-- A delayed job's score is its due time (ms) * 4096 plus a counter.
if score then due = math.floor(tonumber(score) / 4096) end
return { 1, taskId, due }
