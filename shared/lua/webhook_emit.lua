-- Emits one webhook event at most once per job transition, and creates its deliveries.
-- The guard (HSETNX on the job's emitted hash) and the deliveries are written together, so
-- two racing emitters (finalize run twice) cannot both create deliveries, and a crash
-- cannot leave a guard without its deliveries.
--
-- KEYS[1] job emitted hash    KEYS[2] due zset (all deliveries)
-- KEYS[2 + 2i - 1] delivery hash of webhook i    KEYS[2 + 2i] deliveries zset of webhook i
-- ARGV[1] guard field ("<event>:<transition marker>")   ARGV[2] event id
-- ARGV[3] emitted hash expire-at (ms)   ARGV[4] now (ms)   ARGV[5] delivery TTL (ms)
-- ARGV[6] deliveries kept per webhook   ARGV[7] event body (JSON)   ARGV[8] event type
-- ARGV[9] job id   ARGV[10] org
-- ARGV[10 + 2i - 1] delivery id of webhook i   ARGV[10 + 2i] webhook id i
-- Returns the number of deliveries created; 0 when the event was already emitted.
local emitted, due = KEYS[1], KEYS[2]
local field, event_id, emitted_until = ARGV[1], ARGV[2], ARGV[3]
local now, ttl, keep = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local body, event_type, job_id, org = ARGV[7], ARGV[8], ARGV[9], ARGV[10]

if redis.call('HSETNX', emitted, field, event_id) == 0 then return 0 end
redis.call('PEXPIREAT', emitted, emitted_until)

local n = (#KEYS - 2) / 2
for i = 1, n do
  local delivery, list = KEYS[2 + 2 * i - 1], KEYS[2 + 2 * i]
  local delivery_id, webhook_id = ARGV[10 + 2 * i - 1], ARGV[10 + 2 * i]
  redis.call('HSET', delivery, 'id', delivery_id, 'webhook_id', webhook_id, 'org', org,
             'event_id', event_id, 'type', event_type, 'job_id', job_id,
             'status', 'pending', 'attempt_count', 0, 'next_retry_at', '',
             'created_at', now, 'body', body)
  redis.call('PEXPIRE', delivery, ttl)
  redis.call('ZADD', list, now, delivery_id)
  redis.call('ZREMRANGEBYRANK', list, 0, -(keep + 1))
  redis.call('PEXPIRE', list, ttl)
  redis.call('ZADD', due, now, delivery_id)
end
return n
