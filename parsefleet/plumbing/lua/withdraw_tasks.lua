-- Remove from the queue lists KEYS[1] .. KEYS[#KEYS] every waiting message whose task id is one of
-- ARGV; return how many were removed. A message is kombu's JSON envelope, its task id in headers.id.
local wanted = {}
for _, id in ipairs(ARGV) do wanted[id] = true end
local removed = 0
for index = 1, #KEYS do
  for _, raw in ipairs(redis.call('LRANGE', KEYS[index], 0, -1)) do
    local ok, message = pcall(cjson.decode, raw)
    if ok and type(message) == 'table' and type(message.headers) == 'table' and wanted[message.headers.id] then
      removed = removed + redis.call('LREM', KEYS[index], 1, raw)
    end
  end
end
return removed
