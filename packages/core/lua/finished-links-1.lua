--[[
  What the end of some tasks of one type sets off: for each given task that is marked unsettled (it
  has dependents, or belongs to a capped batch), its dependents and its batch gate. Tasks with
  neither cost one ZSCORE here, so every finished task can be asked about, several in one call.

  Input:
    KEYS[1] te:unsettled
    ARGV[1] job key prefix ("<prefix>:{type}:")   ARGV[2...] ids of tasks that have ended

  Output: { {id, gate ("" when none), dependent "<type>:<id>", ...}, ... } for the unsettled ones only
]]
local rcall = redis.call
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if rcall("ZSCORE", KEYS[1], id) then
    local jobKey = ARGV[1] .. id
    local entry = { id, rcall("HGET", jobKey, "te_gate") or "" }
    for _, member in ipairs(rcall("SMEMBERS", jobKey .. ":te:dependents")) do entry[#entry + 1] = member end
    out[#out + 1] = entry
  end
end
return out
