-- Records one document's outcome exactly once and says whether it was the last one.
-- The done-set guard makes a redelivered task a no-op (pitfall 3 in docs/pitfalls.md), and the
-- caller that adds the last member - and only that caller - enqueues finalize (pitfall 6 in
-- docs/pitfalls.md: no chords). It also hands out the job's next unsent document (the fan-out
-- window slides by one): with an envelope (shared/broker_messages.py) it pushes that document's
-- broker message itself, in this same atomic step; without one it remembers the hand-out under this
-- document's index, so a redelivery re-sends it, and the caller sends it.
-- One read and one write of the job hash: this runs once per document.
--
-- KEYS[1] job hash     KEYS[2] done set      KEYS[3] failed set
-- KEYS[4] results hash KEYS[5] org updated zset
-- KEYS[6] queue list (indexes not yet sent)  KEYS[7] claims hash (index -> index it sent)
-- KEYS[8] rows zset (index scored by this write's version: the results cursor's order)
-- KEYS[9] broker queue list (kombu's, for the envelope; absent without one)
-- ARGV[1] document index     ARGV[2] row JSON        ARGV[3] "completed" | "failed"
-- ARGV[4] filled cells       ARGV[5] empty cells     ARGV[6] now (ms)
-- ARGV[7] channel            ARGV[8] job id          ARGV[9] warning JSON or ""
-- ARGV[10] envelope of the next document's message ("@@INDEX@@", "@@ID@@" to fill) or ""
-- A completed row holding "needs_review" (required fields left empty, worker/rows.py) also
-- counts in the job's needs_review figure and adds a required_missing warning.
-- Returns {added (1, 0 if already recorded, -1 if the job is gone), processed, document_count,
--          next document index or -1, 1 if this script pushed its message else 0}
-- Job hash field names are those of shared/job.py's F (tests/unit/test_job_record.py checks).
local job, done, failed, results, updated = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local queue, claims = KEYS[6], KEYS[7]
local index, row, outcome = ARGV[1], ARGV[2], ARGV[3]
local now, channel, job_id, warning = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local envelope = ARGV[10] or ''

local h = redis.call('HMGET', job, 'document_count', 'processed', 'completed_documents',
                     'failed_documents', 'filled', 'empty', 'version', 'first_done_at',
                     'expires_at', 'needs_review')
if not h[1] then return {-1, 0, 0, -1, 0} end
local count, processed = tonumber(h[1]), tonumber(h[2] or '0')
if redis.call('SADD', done, index) == 0 then
  return {0, processed, count, tonumber(redis.call('HGET', claims, index) or '-1'), 0}
end
processed = processed + 1
local version = tonumber(h[7] or '0') + 1
local nxt = redis.call('LPOP', queue)
local pushed = 0
if nxt and envelope ~= '' then
  -- job id + index + this write's version: unique, so kombu's delivery tags never collide
  local id = job_id .. '.' .. nxt .. '.' .. version
  redis.call('LPUSH', KEYS[9], (string.gsub(string.gsub(envelope, '@@INDEX@@', nxt),
                                            '@@ID@@', id)))
  pushed = 1
elseif nxt then
  redis.call('HSET', claims, index, nxt)
end
redis.call('HSET', results, index, row)
redis.call('ZADD', KEYS[8], version, index)

local completed, nfailed = tonumber(h[3] or '0'), tonumber(h[4] or '0')
if outcome == 'failed' then
  nfailed = nfailed + 1
  redis.call('SADD', failed, index)
  redis.call('PEXPIREAT', failed, h[9])
else
  completed = completed + 1
end
local fields = {'processed', processed, 'completed_documents', completed,
                'failed_documents', nfailed, 'filled', tonumber(h[5] or '0') + tonumber(ARGV[4]),
                'empty', tonumber(h[6] or '0') + tonumber(ARGV[5]), 'version', version,
                'updated_at', now}
if (h[8] or '') == '' then
  fields[#fields + 1] = 'first_done_at'
  fields[#fields + 1] = now
end
local review = nil
if outcome ~= 'failed' and string.find(row, '"needs_review":[', 1, true) then
  local decoded = cjson.decode(row)
  if type(decoded.needs_review) == 'table' and #decoded.needs_review > 0 then
    review = {code = 'required_missing', document = tonumber(index),
              message = 'Document ' .. index .. ' (' .. tostring(decoded.document.filename) ..
                ') completed without its required field(s): ' ..
                table.concat(decoded.needs_review, ', ')}
    fields[#fields + 1] = 'needs_review'
    fields[#fields + 1] = tonumber(h[10] or '0') + 1
  end
end
if warning ~= '' or review then
  local list = cjson.decode(redis.call('HGET', job, 'warnings') or '[]')
  if #list < 100 then
    list[#list + 1] = review or cjson.decode(warning)
    fields[#fields + 1] = 'warnings'
    fields[#fields + 1] = cjson.encode(list)
  end
end
redis.call('HSET', job, unpack(fields))
if processed == 1 then
  -- keys born here inherit the data TTL (expires_at) of the job
  redis.call('PEXPIREAT', results, h[9])
  redis.call('PEXPIREAT', done, h[9])
  redis.call('PEXPIREAT', KEYS[8], h[9])
end
redis.call('ZADD', updated, tonumber(now), job_id)
redis.call('PUBLISH', channel, job_id .. ' ' .. version)
return {1, processed, count, tonumber(nxt or '-1'), pushed}
