--[[
  Reads tasks of one type with their status, either by id or by walking the type's `created` index
  newest first (a page of GET /tasks). The status is computed here from BullMQ's own sets, so it is
  always the truth, and filtering costs no extra round trip.

  Input:
    KEYS[1] te:created (lex zset of "<created_ms>:<id>")
    KEYS[2] completed   KEYS[3] failed   KEYS[4] delayed   KEYS[5] prioritized
    KEYS[6] active      KEYS[7] wait     KEYS[8] paused    KEYS[9] waiting-children
    ARGV[1] job key prefix ("<prefix>:{type}:")
    ARGV[2] now (ms)
    ARGV[3] mode: "ids" or "scan"
    ARGV[4] wanted statuses, comma separated ("" = any)        (scan)
    ARGV[5] cursor member, exclusive ("" = from the newest)    (scan)
    ARGV[6] limit                                              (scan)
    ARGV[7] scan budget: most index entries to look at          (scan)
    ARGV[8...] ids                                             (ids)

  Output: { stop, {id, status, due_ms, {hash fields...}}, ... }
    stop: (scan) the last index member looked at when the walk stopped early, "" when the index ended;
          (ids) "". Ids whose job is gone are left out.
]]
local rcall = redis.call
local prefix = ARGV[1]
local now = tonumber(ARGV[2])

local function status_of(id)
  if rcall("ZSCORE", KEYS[2], id) then return "completed", 0 end
  if rcall("ZSCORE", KEYS[3], id) then
    local reason = rcall("HGET", prefix .. id, "failedReason") or ""
    -- A task ended because a dependency failed is cancelled too; its error_code says why.
    if string.sub(reason, 1, 11) == "[cancelled]" or string.sub(reason, 1, 19) == "[dependency_failed]" then return "cancelled", 0 end
    if string.sub(reason, 1, 9) == "[timeout]" then return "timeout", 0 end
    return "failed", 0
  end
  local score = rcall("ZSCORE", KEYS[4], id)
  if score then
    local due = math.floor(tonumber(score) / 4096)
    if due <= now then return "queued", due end
    return "pending", due
  end
  if rcall("ZSCORE", KEYS[5], id) then return "queued", 0 end
  if rcall("LPOS", KEYS[6], id) then return "running", 0 end
  if rcall("LPOS", KEYS[7], id) or rcall("LPOS", KEYS[8], id) then return "queued", 0 end
  if rcall("ZSCORE", KEYS[9], id) then return "pending", 0 end
  return nil, 0
end

local out = { "" }

local function emit(id, status, due)
  local fields = rcall("HGETALL", prefix .. id)
  if #fields > 0 then
    out[#out + 1] = { id, status, tostring(due), fields }
    return true
  end
  return false
end

if ARGV[3] == "ids" then
  for i = 8, #ARGV do
    local status, due = status_of(ARGV[i])
    if status then emit(ARGV[i], status, due) end
  end
  return out
end

local wanted = nil
if ARGV[4] ~= "" then
  wanted = {}
  for s in string.gmatch(ARGV[4], "[^,]+") do wanted[s] = true end
end
local limit = tonumber(ARGV[6])
local budget = tonumber(ARGV[7])
local from = "+"
if ARGV[5] ~= "" then from = "(" .. ARGV[5] end
local found = 0
local looked = 0
local chunk = math.min(budget, math.max(limit, 100))

while looked < budget do
  local members = rcall("ZREVRANGEBYLEX", KEYS[1], from, "-", "LIMIT", 0, math.min(chunk, budget - looked))
  if #members == 0 then return out end
  for _, member in ipairs(members) do
    looked = looked + 1
    local id = string.sub(member, string.find(member, ":", 1, true) + 1)
    local status, due = status_of(id)
    if status and (wanted == nil or wanted[status]) then
      if emit(id, status, due) then found = found + 1 end
    end
    if found >= limit then
      out[1] = member
      return out
    end
    from = "(" .. member
  end
end
out[1] = string.sub(from, 2)
return out
