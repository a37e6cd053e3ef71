-- Records one document's outcome exactly once and says whether it was the last one.
-- The done-set guard makes a redelivered task a no-op (PITFALLS 3), and the caller that
-- adds the last member - and only that caller - enqueues finalize (PITFALLS 6: no chords).
-- It also hands the caller the job's next unsent document (the fan-out window slides by
-- one), remembering the hand-out under this document's index so a redelivery re-sends it.
--
-- KEYS[1] job hash     KEYS[2] done set      KEYS[3] failed set
-- KEYS[4] results hash KEYS[5] org updated zset
-- KEYS[6] queue list (indexes not yet sent)  KEYS[7] claims hash (index -> index it sent)
-- ARGV[1] document index     ARGV[2] row JSON        ARGV[3] "completed" | "failed"
-- ARGV[4] filled cells       ARGV[5] empty cells     ARGV[6] now (ms)
-- ARGV[7] channel            ARGV[8] job id          ARGV[9] warning JSON or ""
-- Returns {added (1, 0 if already recorded, -1 if the job is gone), processed, document_count,
--          next document index to send or -1}
local job, done, failed, results, updated = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local queue, claims = KEYS[6], KEYS[7]
local index, row, outcome = ARGV[1], ARGV[2], ARGV[3]
local filled, empty, now = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local channel, job_id, warning = ARGV[7], ARGV[8], ARGV[9]

if redis.call('EXISTS', job) == 0 then return {-1, 0, 0, -1} end
local count = tonumber(redis.call('HGET', job, 'document_count') or '0')
if redis.call('SADD', done, index) == 0 then
  local claimed = redis.call('HGET', claims, index)
  return {0, tonumber(redis.call('HGET', job, 'processed') or '0'), count,
          tonumber(claimed or '-1')}
end
local nxt = redis.call('LPOP', queue)
if nxt then redis.call('HSET', claims, index, nxt) end
redis.call('HSET', results, index, row)
if outcome == 'failed' then
  redis.call('SADD', failed, index)
  redis.call('HINCRBY', job, 'failed_documents', 1)
else
  redis.call('HINCRBY', job, 'completed_documents', 1)
end
redis.call('HINCRBY', job, 'filled', filled)
redis.call('HINCRBY', job, 'empty', empty)
local processed = redis.call('HINCRBY', job, 'processed', 1)
if (redis.call('HGET', job, 'first_done_at') or '') == '' then
  redis.call('HSET', job, 'first_done_at', now)
end
if warning ~= '' then
  local list = cjson.decode(redis.call('HGET', job, 'warnings') or '[]')
  if #list < 100 then
    list[#list + 1] = cjson.decode(warning)
    redis.call('HSET', job, 'warnings', cjson.encode(list))
  end
end
-- keys born here inherit the data TTL (expires_at) of the job
if redis.call('PTTL', results) == -1 then
  local exp = redis.call('HGET', job, 'expires_at')
  redis.call('PEXPIREAT', results, exp)
  redis.call('PEXPIREAT', done, exp)
end
if outcome == 'failed' and redis.call('PTTL', failed) == -1 then
  redis.call('PEXPIREAT', failed, redis.call('HGET', job, 'expires_at'))
end
touch(job, updated, job_id, now, channel)
return {1, processed, count, tonumber(nxt or '-1')}
