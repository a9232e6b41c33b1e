--[[
  Books what the engine keeps beside BullMQ for the tasks a job scheduler makes. BullMQ's own scripts make
  those jobs, so the engine's create path never sees them: each task gets its entry in the `created` index
  (GET /tasks) and its creation counter here, once; and when a worker starts a run, the schedule gets its
  run count and last run time, once per tick, whichever process and however often the tick is handled.
  Called by the API for the first task of a new schedule and after a skipped run, and by a worker each
  time it takes a scheduler-made task: that task, and the scheduler's next one, which BullMQ made a moment
  before (so a run not yet due is listed as `pending` like any delayed task).

  Input:
    KEYS[1] te:created   KEYS[2] te:stats   KEYS[3] BullMQ's job schedulers (zset `repeat`: id -> next tick)
    KEYS[4] te:schedule:<schedule id>
    ARGV[1] job key prefix   ARGV[2] schedule id
    ARGV[3] id of a task of the schedule to book ("" none)
    ARGV[4] when a worker started that task (ms; "" when this is not the start of a run)
    ARGV[5] that task's tick (ms)

  Output: number of tasks booked now (0..2)
]]
local rcall = redis.call
local prefix = ARGV[1]
local booked = 0

local function book(id)
  local fields = rcall("HMGET", prefix .. id, "timestamp", "priority")
  if not fields[1] then return end
  local member = string.format("%015d", tonumber(fields[1])) .. ":" .. id
  if rcall("ZADD", KEYS[1], "NX", 0, member) == 1 then
    -- Lifetime counter "created:<priority>" (the task's 0..4 is BullMQ's priority - 1).
    rcall("HINCRBY", KEYS[2], "created:" .. math.max(0, (tonumber(fields[2]) or 3) - 1), 1)
    booked = booked + 1
  end
end

if ARGV[3] ~= "" then book(ARGV[3]) end
local nextTick = rcall("ZSCORE", KEYS[3], ARGV[2])
if nextTick then book("repeat:" .. ARGV[2] .. ":" .. nextTick) end

-- A tick is one run: a retry or a re-run after a crash of the same tick is not counted again. Ticks of
-- one schedule only grow (BullMQ makes the next run when the current one is taken).
if ARGV[4] ~= "" and rcall("EXISTS", KEYS[4]) == 1 then
  local tick = tonumber(ARGV[5])
  if tick > (tonumber(rcall("HGET", KEYS[4], "last_tick")) or -1) then
    rcall("HSET", KEYS[4], "last_tick", ARGV[5], "last_run_at", ARGV[4])
    rcall("HINCRBY", KEYS[4], "runs", 1)
  end
end
return booked
