-- The backlog of each queue list KEYS[1] .. KEYS[#KEYS - 1], read with the outbox's meta hash
-- KEYS[#KEYS] (batch id -> msgpack [queue, enqueued at, source bytes]). Per queue, in KEYS order:
-- {waiting batches, waiting bytes, oldest waiting enqueue time as a string ('' when none),
--  waiting batches without meta}. Then, per queue again, {outstanding batches, outstanding bytes}:
-- every batch kept in the outbox for that queue, waiting or being parsed. Lists hold at most
-- max_pending_batches messages each (backpressure), so this stays cheap. Only ids and sizes travel,
-- never payloads.
local meta_key = KEYS[#KEYS]
local result = {}
local index_of = {}
for index = 1, #KEYS - 1 do index_of[KEYS[index]] = index end

for index = 1, #KEYS - 1 do
  local count, bytes, oldest, unknown = 0, 0, nil, 0
  for _, raw in ipairs(redis.call('LRANGE', KEYS[index], 0, -1)) do
    count = count + 1
    local ok, message = pcall(cjson.decode, raw)
    local record = false
    if ok and type(message) == 'table' and type(message.headers) == 'table' and type(message.headers.id) == 'string' then
      record = redis.call('HGET', meta_key, message.headers.id)
    end
    if record then
      local decoded, meta = pcall(cmsgpack.unpack, record)
      if decoded and type(meta) == 'table' then
        bytes = bytes + (tonumber(meta[3]) or 0)
        local at = tonumber(meta[2])
        if at and (oldest == nil or at < oldest) then oldest = at end
      else
        unknown = unknown + 1
      end
    else
      unknown = unknown + 1
    end
  end
  result[#result + 1] = {count, bytes, oldest and tostring(oldest) or '', unknown}
end

local outstanding = {}
for index = 1, #KEYS - 1 do outstanding[index] = {0, 0} end
for _, record in ipairs(redis.call('HVALS', meta_key)) do
  local decoded, meta = pcall(cmsgpack.unpack, record)
  if decoded and type(meta) == 'table' then
    local index = index_of[meta[1]]
    if index then
      outstanding[index][1] = outstanding[index][1] + 1
      outstanding[index][2] = outstanding[index][2] + (tonumber(meta[3]) or 0)
    end
  end
end
for index = 1, #KEYS - 1 do result[#result + 1] = outstanding[index] end
return result
