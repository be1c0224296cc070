// Atomic create: a duplicate id or a live/completed idempotency key decides instead of inserting.
import { TERMINAL } from './common.js';

/**
 * ARGV: prefix, id, idempotency key ('' none), document, now, operation, then field/value pairs.
 * Returns {'created', seq} (the caller has the rest), or {kind, <HGETALL of the deciding job>}.
 */
export const CREATE = `
${TERMINAL}
local p, id, idem, doc, now, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local jk = p .. 'job:' .. id
if redis.call('EXISTS', jk) == 1 then
  local kind = 'duplicate_job_id'
  if redis.call('HGET', jk, 'document') == doc then kind = 'same_document' end
  return {kind, redis.call('HGETALL', jk)}
end
if idem ~= '' then
  local owner = redis.call('GET', p .. 'idem:' .. idem)
  if owner then
    local ok = p .. 'job:' .. owner
    local st = redis.call('HGET', ok, 'status')
    if st == 'completed' then return {'idempotent_completed', redis.call('HGETALL', ok)} end
    if st and not terminal[st] then return {'idempotent_in_flight', redis.call('HGETALL', ok)} end
  end
end
local seq = redis.call('INCR', p .. 'seq')
local fields, attempt = {'seq', seq, 'status', 'pending', 'document', doc}, ''
for i = 7, #ARGV, 2 do
  fields[#fields + 1], fields[#fields + 2] = ARGV[i], ARGV[i + 1]
  if ARGV[i] == 'attempt' then attempt = ARGV[i + 1] end
end
redis.call('HSET', jk, unpack(fields))
redis.call('ZADD', p .. 'jobs', seq, id)
redis.call('ZADD', p .. 'st:pending', seq, id)
redis.call('ZADD', p .. 'op:' .. op, seq, id)
redis.call('HINCRBY', p .. 'counts', 'pending', 1)
if idem ~= '' then redis.call('SET', p .. 'idem:' .. idem, id) end
redis.call('RPUSH', p .. 'hist:' .. id, '|pending|' .. now .. '|' .. attempt)
return {'created', seq}
`;
