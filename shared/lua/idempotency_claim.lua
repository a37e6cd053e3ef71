-- Claims an Idempotency-Key: returns the value already held, else sets this one with its TTL.
-- SET NX GET does the same in one command, but only from Redis 7.0; the oldest supported Redis
-- (and the embedded one) is 6.2, and a script is atomic on every version.
--
-- KEYS[1] claim key ({p}:idem:{org}:{sha256(header value)})
-- ARGV[1] value to store     ARGV[2] TTL in seconds
-- Returns the value that held the key, or false when this call claimed it.
local previous = redis.call('GET', KEYS[1])
if previous then
  return previous
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
