-- Helpers prepended to every script by shared/scripts.py; not a script by itself.
-- Every change of a job goes through touch(): version + 1, updated_at, the org's
-- "updated" index (for ?updated_since=) and one pub/sub message "<id> <version>".
-- Job hash field names are those of shared/job.py's F (tests/unit/test_job_record.py checks).

local TERMINAL = {completed = true, failed = true, cancelled = true, expired = true}

local function touch(job, updated, job_id, now, channel)
  local v = redis.call('HINCRBY', job, 'version', 1)
  redis.call('HSET', job, 'updated_at', now)
  redis.call('ZADD', updated, tonumber(now), job_id)
  redis.call('PUBLISH', channel, job_id .. ' ' .. v)
  return v
end

local function push_timeline(timeline, status, phase, now)
  redis.call('RPUSH', timeline, status .. '|' .. phase .. '|' .. now)
end

local function is_expired(job, now)
  local exp = tonumber(redis.call('HGET', job, 'expires_at') or '0')
  return exp > 0 and tonumber(now) >= exp
end
