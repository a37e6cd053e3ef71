-- Called when any task of a job starts running (every delivery, first or repeated).
-- Counts the run, so crash redeliveries - which Celery's request.retries does not see -
-- still grow attempt_count (pitfalls 1 and 4 in docs/pitfalls.md), and decides whether the task may
-- run. For a document it also returns field <index> of KEYS[5] (the worker passes the documents
-- hash), so starting a document costs one round trip.
--
-- KEYS[1] job hash            KEYS[2] attempts hash     KEYS[3] done set
-- KEYS[4] org updated zset    KEYS[5] hash by document index (documents only; may be absent)
-- ARGV[1] task key ("validate", "parse", "finalize" or "d:<index>")
-- ARGV[2] now (ms)            ARGV[3] events channel    ARGV[4] job id
-- ARGV[5] crash cap (runs lost to crashes before the task is given up)
-- ARGV[6] document index, or "" for job-level tasks
--
-- Returns {verdict, runs, code, KEYS[5] field or ""}:
--   "gone"  job unknown or purged         "skip"  job cancelled/terminal/expired (code = status)
--   "done"  document already recorded     "cap"   crash cap reached (code = last failure code)
--   "run"   go ahead (code = failure code of the previous run, or "")
-- Job hash field names are those of shared/job.py's F (tests/unit/test_job_record.py checks).
local job, attempts, done, updated = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local task, now, channel, job_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local cap, index = tonumber(ARGV[5]), ARGV[6]

local st = redis.call('HMGET', job, 'status', 'cancelled', 'attempt_count', 'expires_at',
                      'started_at')
if not st[1] then return {'gone', 0, '', ''} end
if st[2] == '1' or TERMINAL[st[1]] then return {'skip', 0, st[1], ''} end
local exp = tonumber(st[4] or '0')
if exp > 0 and tonumber(now) >= exp then return {'skip', 0, 'expired', ''} end
if index ~= '' and redis.call('SISMEMBER', done, index) == 1 then return {'done', 0, '', ''} end

local runs = redis.call('HINCRBY', attempts, task, 1)
if index == '' and runs == 1 and redis.call('PTTL', attempts) == -1 then
  -- documents' runs land in a hash the fan-out already gave the data TTL
  redis.call('PEXPIREAT', attempts, exp)
end
local changed = false
local code = ''
if tonumber(st[3] or '0') == 0 then
  redis.call('HSET', job, 'attempt_count', 1, 'last_attempt_at', now)
  if (st[5] or '') == '' then redis.call('HSET', job, 'started_at', now) end
  changed = true
end
local verdict = 'run'
if runs == 1 then
  -- a note left by a run that failed before it was counted (Redis down at its start):
  -- it must not excuse a later crash of this task
  redis.call('HDEL', attempts, 'noted:' .. task)
elseif runs > 1 then
  local noted = redis.call('HGET', attempts, 'noted:' .. task)
  if noted then
    -- a deliberate retry: note_failure.lua already counted it
    redis.call('HDEL', attempts, 'noted:' .. task)
    code = noted
  else
    -- nobody said goodbye: the previous run died with its worker
    code = 'worker_lost'
    redis.call('HINCRBY', job, 'attempt_count', 1)
    redis.call('HSET', job, 'last_failure_code', code)
    if redis.call('HINCRBY', attempts, 'crash:' .. task, 1) >= cap then verdict = 'cap' end
  end
  redis.call('HSET', job, 'last_attempt_at', now)
  changed = true
end
if changed then touch(job, updated, job_id, now, channel) end
local parsed = ''
if index ~= '' and KEYS[5] then parsed = redis.call('HGET', KEYS[5], index) or '' end
return {verdict, runs, code, parsed}
