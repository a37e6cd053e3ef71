-- Registers a webhook unless the organization already has the maximum: count and create in
-- one step, so concurrent creations cannot both see room for one more and exceed the cap.
--
-- KEYS[1] org webhooks index (zset)    KEYS[2] webhook hash
-- ARGV[1] most webhooks per org    ARGV[2] webhook id    ARGV[3] created (ms)
-- ARGV[4..] field, value pairs of the webhook hash
-- Returns 1 when created, 0 when the organization is at the maximum.
local index, hook = KEYS[1], KEYS[2]
local most, webhook_id, created = tonumber(ARGV[1]), ARGV[2], ARGV[3]

if redis.call('ZCARD', index) >= most then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', hook, unpack(fields))
redis.call('ZADD', index, created, webhook_id)
return 1
