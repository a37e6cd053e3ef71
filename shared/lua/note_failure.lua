-- Called just before a task asks Celery to retry it after a transient failure, so the
-- retry shows in attempt_count and last_failure_code at once, not only when it restarts.
--
-- KEYS[1] job hash     KEYS[2] attempts hash     KEYS[3] org updated zset
-- ARGV[1] task key     ARGV[2] failure code      ARGV[3] now (ms)
-- ARGV[4] channel      ARGV[5] job id
-- Returns the job's new attempt_count, or 0 when the job is gone.
-- Job hash field names are those of shared/job.py's F (tests/unit/test_job_record.py checks).
local job, attempts, updated = KEYS[1], KEYS[2], KEYS[3]
local task, code, now, channel, job_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', job) == 0 then return 0 end
redis.call('HSET', attempts, 'noted:' .. task, code)
local n = redis.call('HINCRBY', job, 'attempt_count', 1)
redis.call('HSET', job, 'last_failure_code', code, 'last_attempt_at', now)
touch(job, updated, job_id, now, channel)
return n
