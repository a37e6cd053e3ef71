-- Stores a new schema unless its organization already holds its quota. One script, so
-- concurrent creates cannot pass the quota together.
--
-- KEYS[1] org schema index (zset: id -> created ms)   KEYS[2] schema key
-- ARGV[1] quota     ARGV[2] schema id     ARGV[3] schema JSON     ARGV[4] created (ms)
-- Returns 1 when stored, 0 when the organization holds its quota already.
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
return 1
