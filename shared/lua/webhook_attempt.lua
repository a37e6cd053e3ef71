-- Records one delivery attempt and schedules what comes next, only if the delivery is still
-- pending with the attempt count the caller started from: a redelivered or duplicated task
-- that raced another one records nothing.
--
-- KEYS[1] delivery hash    KEYS[2] due zset    KEYS[3] delivery lock
-- ARGV[1] delivery id      ARGV[2] attempts done before this one
-- ARGV[3] attempt JSON, or "" to close the delivery without an attempt (webhook deleted)
-- ARGV[4] outcome: "succeeded" | "failed" | "retry"    ARGV[5] next attempt (ms) for "retry"
-- Returns 1 when recorded, 0 when stale.
local delivery, due, lock = KEYS[1], KEYS[2], KEYS[3]
local delivery_id, before, attempt = ARGV[1], ARGV[2], ARGV[3]
local outcome, next_at = ARGV[4], ARGV[5]

local cur = redis.call('HMGET', delivery, 'status', 'attempt_count')
redis.call('DEL', lock)
if cur[1] ~= 'pending' or cur[2] ~= before then return 0 end

if attempt ~= '' then
  local n = tonumber(before) + 1
  redis.call('HSET', delivery, 'a:' .. n, attempt, 'attempt_count', n)
end
if outcome == 'retry' then
  redis.call('HSET', delivery, 'next_retry_at', next_at)
  redis.call('ZADD', due, next_at, delivery_id)
else
  redis.call('HSET', delivery, 'status', outcome, 'next_retry_at', '')
  redis.call('ZREM', due, delivery_id)
end
return 1
