-- Re-opens a failed, cancelled or expired job under the same id. Completed documents keep
-- their cells; failed ones leave the done set (and the counters) so they run again.
-- With ARGV[7] = "failed" a completed job that has failed rows may be re-opened too.
--
-- KEYS[1] job hash    KEYS[2] timeline     KEYS[3] org updated zset
-- KEYS[4] done set    KEYS[5] failed set   KEYS[6] attempts hash
-- KEYS[7] docs hash   KEYS[8] parsed hash  KEYS[9] results hash   KEYS[10] schema string
-- KEYS[11] names hash KEYS[12] rows zset (results cursor)   KEYS[13] rerun hash
-- ARGV[1] job id      ARGV[2] now (ms)     ARGV[3] channel
-- ARGV[4] new expires_at (ms)   ARGV[5] new purge_at (ms)   ARGV[6] next phase
-- ARGV[7] "failed" (retry only the failed rows, completed jobs allowed) or ""
-- Returns {1, version}; {0, status} when the status does not allow a retry
-- ({0, "no_failed_rows"} for a completed job with nothing to re-run);
-- {-1, "data_expired"} when the documents are gone.
-- Job hash field names are those of shared/job.py's F (tests/unit/test_job_record.py checks).
local job, timeline, updated = KEYS[1], KEYS[2], KEYS[3]
local done, failed, attempts, docs = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local job_id, now, channel = ARGV[1], ARGV[2], ARGV[3]
local expires_at, purge_at, phase = ARGV[4], ARGV[5], ARGV[6]
local only_failed = ARGV[7] == 'failed'

if redis.call('EXISTS', job) == 0 then return {0, 'gone'} end
local status = redis.call('HGET', job, 'status')
if is_expired(job, now) then status = 'expired' end
local reopen_completed = only_failed and status == 'completed'
if status ~= 'failed' and status ~= 'cancelled' and status ~= 'expired'
    and not reopen_completed then
  return {0, status}
end
if redis.call('EXISTS', docs) == 0 then return {-1, 'data_expired'} end
if reopen_completed and redis.call('SCARD', failed) == 0 then return {0, 'no_failed_rows'} end

local fields = tonumber(redis.call('HGET', job, 'field_count') or '0')
local again = redis.call('SMEMBERS', failed)
for _, index in ipairs(again) do
  redis.call('SREM', done, index)
  redis.call('HDEL', KEYS[9], index)
  redis.call('ZREM', KEYS[12], index)
  redis.call('HINCRBY', KEYS[13], index, 1)
end
local n = #again
if n > 0 then
  redis.call('HINCRBY', job, 'failed_documents', -n)
  redis.call('HINCRBY', job, 'processed', -n)
  redis.call('HINCRBY', job, 'empty', -n * fields)
end
redis.call('DEL', failed, attempts)
redis.call('HSET', job, 'status', 'queued', 'current_phase', phase, 'cancelled', '0',
  'error_code', '', 'error_message', '', 'completed_at', '',
  'expires_at', expires_at, 'purge_at', purge_at, 'last_attempt_at', now, 'exec_started_at', '', 'fanout_done', '',
  'exec_processed_base', redis.call('HGET', job, 'processed'))
redis.call('HINCRBY', job, 'attempt_count', 1)
for i = 4, 9 do redis.call('PEXPIREAT', KEYS[i], expires_at) end
redis.call('PEXPIREAT', KEYS[11], expires_at)
redis.call('PEXPIREAT', KEYS[12], expires_at)
if n > 0 then redis.call('PEXPIREAT', KEYS[13], expires_at) end
redis.call('PEXPIREAT', job, purge_at)
redis.call('PEXPIREAT', timeline, purge_at)
redis.call('PEXPIREAT', KEYS[10], purge_at)
push_timeline(timeline, 'queued', phase, now)
return {1, touch(job, updated, job_id, now, channel)}
