-- The broker messages that mention any of the given jobs, read in one atomic step from the
-- queues and from kombu's unacked hash, for the lost-message audit (worker/fleet.py): a
-- message is either queued, or delivered (unacked, held by a worker), or lost. Reading both
-- places in one script means no message can move between them while we look.
--
-- KEYS[1..n-1] broker queue lists     KEYS[n] kombu's unacked hash
-- ARGV[1..] job ids (plain substring match; the caller parses what comes back)
-- Returns the matching raw entries (list elements, then unacked values).
local out = {}
local function scan(items)
  for _, item in ipairs(items) do
    for _, id in ipairs(ARGV) do
      if string.find(item, id, 1, true) then
        out[#out + 1] = item
        break
      end
    end
  end
end
for i = 1, #KEYS - 1 do
  scan(redis.call('LRANGE', KEYS[i], 0, -1))
end
scan(redis.call('HVALS', KEYS[#KEYS]))
return out
