// The status machine's one write: compare-and-set of the status with the run fence, the patch,
// the history entry, the indexes, the result of a terminal move and the progress events the run
// buffered since its last write, all in one script call. `via` records the steps the job passes
// through without stopping (pending → assigned → running is one call, two history entries).
import { TERMINAL } from './common.js';

/** Fields a transition may change; the `mutable` reply returns them (the caller has the rest). */
export const MUTABLE_FIELDS = [
  'attempt',
  'worker_id',
  'started_at',
  'completed_at',
  'not_before',
  'progress',
  'error',
] as const;

/**
 * ARGV: 1 prefix, 2 id, 3 from (comma list), 4 via (comma list of status:ms, '' none), 5 to, 6 now, 7 guard worker ('' none),
 * 8 guard attempt ('' none), 9 result document ('' none), 10 reply ('full' | 'mutable'),
 * 11 events kept per job, 12 n events, 13 progress of the last event ('' when n = 0),
 * 14 .. 13+n events, then field/value pairs to set.
 * Returns nil when the status (or the guard) did not match; else with reply 'full' every field
 * but `document`, with 'mutable' the values of MUTABLE_FIELDS in that order.
 */
export const MOVE = `
${TERMINAL}
local p, id, from, via, to, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local result, reply, nev = ARGV[9], ARGV[10], tonumber(ARGV[12])
local jk = p .. 'job:' .. id
-- One read for the checks and the indexes: status, the run guard, seq (never changes).
local cur = redis.call('HMGET', jk, 'status', 'worker_id', 'attempt', 'seq')
local st, attempt = cur[1], cur[3]
if not st then return false end
local allowed = false
for f in string.gmatch(from, '[^,]+') do if f == st then allowed = true end end
if not allowed then return false end
if ARGV[7] ~= '' and cur[2] ~= ARGV[7] then return false end
if ARGV[8] ~= '' and attempt ~= ARGV[8] then return false end
local fields = {'status', to}
-- Events first: they happened before this move (and a terminal job takes no more events).
if nev > 0 then
  local ek = p .. 'ev:' .. id
  redis.call('RPUSH', ek, unpack(ARGV, 14, 13 + nev))
  redis.call('LTRIM', ek, -tonumber(ARGV[11]), -1)
  fields[3], fields[4] = 'progress', ARGV[13]
end
for i = 14 + nev, #ARGV, 2 do
  fields[#fields + 1], fields[#fields + 2] = ARGV[i], ARGV[i + 1]
  if ARGV[i] == 'attempt' then attempt = ARGV[i + 1] end -- history records the attempt after the move
end
redis.call('HSET', jk, unpack(fields))
if st ~= to then
  redis.call('ZREM', p .. 'st:' .. st, id)
  redis.call('ZADD', p .. 'st:' .. to, cur[4], id)
  redis.call('HINCRBY', p .. 'counts', st, -1)
  redis.call('HINCRBY', p .. 'counts', to, 1)
end
if st ~= to or via ~= '' then
  local prev, entries = st, {}
  for v, at in string.gmatch(via, '([^,:]+):(%d+)') do
    entries[#entries + 1] = prev .. '|' .. v .. '|' .. at .. '|' .. attempt
    prev = v
  end
  entries[#entries + 1] = prev .. '|' .. to .. '|' .. now .. '|' .. attempt
  redis.call('RPUSH', p .. 'hist:' .. id, unpack(entries))
end
if terminal[to] then
  if result ~= '' then redis.call('SET', p .. 'result:' .. id, result) end
  redis.call('ZADD', p .. 'done', now, id)
end
if reply == 'mutable' then
  return redis.call('HMGET', jk, ${MUTABLE_FIELDS.map((f) => `'${f}'`).join(', ')})
end
-- Everything but the envelope document, which the caller already has (it never changes).
local all, out = redis.call('HGETALL', jk), {}
for i = 1, #all, 2 do
  if all[i] ~= 'document' then out[#out + 1] = all[i]; out[#out + 1] = all[i + 1] end
end
return out
`;
