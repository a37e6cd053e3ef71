-- Claims the members of a "due" sorted set whose time has come, by pushing their score a
-- lease into the future instead of removing them: a claimer that dies before finishing
-- leaves the member to be claimed again once the lease runs out. Two sweepers running at
-- once never claim the same member in the same lease.
--
-- KEYS[1] zset (score = due time in ms)
-- ARGV[1] now (ms)    ARGV[2] lease (ms)    ARGV[3] most members to claim
-- Returns the claimed members; each now has score now + lease.
local zset = KEYS[1]
local now, lease, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local members = redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(members) do
  redis.call('ZADD', zset, now + lease, m)
end
return members
