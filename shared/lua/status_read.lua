-- The hot path of GET /status: count the request against the key's rate window and read
-- the job hashes, in one round trip (auth comes from an in-process cache).
--
-- KEYS[1] rate window counter    KEYS[2..] job hashes (zero or more)
-- ARGV[1] window length (seconds)
-- Returns {count in window, job1 flat HGETALL, job2 flat HGETALL, ...}
-- Job hash field names are those of shared/job.py's F (tests/unit/test_job_record.py checks).
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]) + 1) end
local out = {c}
for i = 2, #KEYS do
  out[i] = redis.call('HGETALL', KEYS[i])
end
return out
