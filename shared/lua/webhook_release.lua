-- Removes a claimed member only while it still has the score its claim gave it, so a member
-- re-registered meanwhile (a retried job got a new expires_at) is kept.
--
-- KEYS[1] zset    ARGV[1] member    ARGV[2] the score the claim set (ms)
-- Returns 1 when removed, 0 when the member changed or is gone.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
