-- Moves a job to a new status and/or phase, only from the statuses the caller allows,
-- so two racing writers (finalize run twice, cancel during finalize) cannot both win.
--
-- KEYS[1] job hash     KEYS[2] timeline list     KEYS[3] org updated zset
-- KEYS[4] running zset (a terminal job leaves it; member "<org>|<id>")
-- ARGV[1] job id       ARGV[2] now (ms)          ARGV[3] channel
-- ARGV[4] allowed current statuses, comma separated
-- ARGV[5] new status or ""   ARGV[6] new phase or ""
-- ARGV[7..] field, value pairs to set as well (error_code, exec_started_at, ...)
-- Returns {1, version} on success, {0, current status} when refused ("gone" if no job).
-- Job hash field names are those of shared/job.py's F (tests/unit/test_job_record.py checks).
local job, timeline, updated = KEYS[1], KEYS[2], KEYS[3]
local job_id, now, channel = ARGV[1], ARGV[2], ARGV[3]
local allowed, new_status, new_phase = ARGV[4], ARGV[5], ARGV[6]

if redis.call('EXISTS', job) == 0 then return {0, 'gone'} end
local cur = redis.call('HMGET', job, 'status', 'current_phase')
local status, phase = cur[1], cur[2] or ''
if not string.find(',' .. allowed .. ',', ',' .. status .. ',', 1, true) then
  return {0, status}
end
if new_status ~= 'expired' and is_expired(job, now) then return {0, 'expired'} end

local target_status = new_status ~= '' and new_status or status
local target_phase = new_phase ~= '' and new_phase or phase
redis.call('HSET', job, 'status', target_status, 'current_phase', target_phase)
if TERMINAL[target_status] and not TERMINAL[status] then
  redis.call('HSET', job, 'completed_at', now)
  redis.call('ZREM', KEYS[4], redis.call('HGET', job, 'org') .. '|' .. job_id)
end
for i = 7, #ARGV - 1, 2 do
  redis.call('HSET', job, ARGV[i], ARGV[i + 1])
end
if target_status ~= status or target_phase ~= phase then
  push_timeline(timeline, target_status, target_phase, now)
end
return {1, touch(job, updated, job_id, now, channel)}
