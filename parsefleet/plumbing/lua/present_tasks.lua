-- The task ids of every message that Redis still holds for a worker: waiting in one of the queue
-- lists (KEYS[1] .. KEYS[#KEYS - 1]) or delivered and not yet acknowledged (kombu's hash of
-- unacknowledged messages, KEYS[#KEYS], whose values are [message, exchange, routing key]).
-- A message is kombu's JSON envelope; Celery puts the task id in its headers. Only ids travel back,
-- never the payloads. Unreadable entries are skipped: they cannot be ours.
local ids = {}

local function add(message)
  if type(message) == 'table' and type(message.headers) == 'table' and type(message.headers.id) == 'string' then
    ids[#ids + 1] = message.headers.id
  end
end

for index = 1, #KEYS - 1 do
  for _, raw in ipairs(redis.call('LRANGE', KEYS[index], 0, -1)) do
    local ok, message = pcall(cjson.decode, raw)
    if ok then add(message) end
  end
end

for _, raw in ipairs(redis.call('HVALS', KEYS[#KEYS])) do
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' then add(entry[1]) end
end

return ids
