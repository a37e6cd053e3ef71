-- Sends a past delivery again: a new delivery of the same event (same event id and body) to
-- the same webhook, due now and retried on the usual schedule, listed with the webhook's
-- deliveries and pointing back at the one it repeats. Refused while the original is still
-- pending (its own retries would race the copy), and when it is not this webhook's.
--
-- KEYS[1] original delivery hash    KEYS[2] new delivery hash
-- KEYS[3] webhook's deliveries zset  KEYS[4] due zset (all deliveries)
-- ARGV[1] original delivery id   ARGV[2] new delivery id   ARGV[3] webhook id   ARGV[4] org
-- ARGV[5] now (ms)   ARGV[6] delivery TTL (ms)   ARGV[7] deliveries kept per webhook
-- Returns 'ok', 'missing' (no such delivery of this webhook) or 'pending'.
local original, delivery, list, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local original_id, delivery_id, webhook_id, org = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, ttl, keep = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])

local d = redis.call('HMGET', original, 'webhook_id', 'org', 'status', 'event_id', 'type',
                     'job_id', 'body')
if d[1] ~= webhook_id or d[2] ~= org or not d[4] or not d[7] then return 'missing' end
if d[3] ~= 'succeeded' and d[3] ~= 'failed' then return 'pending' end

redis.call('HSET', delivery, 'id', delivery_id, 'webhook_id', webhook_id, 'org', org,
           'event_id', d[4], 'type', d[5], 'job_id', d[6],
           'status', 'pending', 'attempt_count', 0, 'next_retry_at', '',
           'created_at', now, 'body', d[7], 'redelivery_of', original_id)
redis.call('PEXPIRE', delivery, ttl)
redis.call('ZADD', list, now, delivery_id)
redis.call('ZREMRANGEBYRANK', list, 0, -(keep + 1))
redis.call('PEXPIRE', list, ttl)
redis.call('ZADD', due, now, delivery_id)
return 'ok'
