-- Re-opens a failed, cancelled or expired job under the same id. Completed documents keep
-- their cells; failed ones leave the done set (and the counters) so they run again.
--
-- KEYS[1] job hash    KEYS[2] timeline     KEYS[3] org updated zset
-- KEYS[4] done set    KEYS[5] failed set   KEYS[6] attempts hash
-- KEYS[7] docs hash   KEYS[8] parsed hash  KEYS[9] results hash   KEYS[10] schema string
-- KEYS[11] names hash
-- ARGV[1] job id      ARGV[2] now (ms)     ARGV[3] channel
-- ARGV[4] new expires_at (ms)   ARGV[5] new purge_at (ms)   ARGV[6] next phase
-- Returns {1, version}; {0, status} when the status does not allow a retry;
-- {-1, "data_expired"} when the documents are gone.
local job, timeline, updated = KEYS[1], KEYS[2], KEYS[3]
local done, failed, attempts, docs = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local job_id, now, channel = ARGV[1], ARGV[2], ARGV[3]
local expires_at, purge_at, phase = ARGV[4], ARGV[5], ARGV[6]

if redis.call('EXISTS', job) == 0 then return {0, 'gone'} end
local status = redis.call('HGET', job, 'status')
if is_expired(job, now) then status = 'expired' end
if status ~= 'failed' and status ~= 'cancelled' and status ~= 'expired' then
  return {0, status}
end
if redis.call('EXISTS', docs) == 0 then return {-1, 'data_expired'} end

local fields = tonumber(redis.call('HGET', job, 'field_count') or '0')
local again = redis.call('SMEMBERS', failed)
for _, index in ipairs(again) do
  redis.call('SREM', done, index)
  redis.call('HDEL', KEYS[9], index)
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
redis.call('PEXPIREAT', job, purge_at)
redis.call('PEXPIREAT', timeline, purge_at)
redis.call('PEXPIREAT', KEYS[10], purge_at)
push_timeline(timeline, 'queued', phase, now)
return {1, touch(job, updated, job_id, now, channel)}
