// Lua scripts that make the store's decisions atomic inside Redis: duplicate ids, idempotency
// keys, compare-and-set transitions with a run guard, retention. Keys are built from a prefix
// inside the scripts, so the store needs one Redis (or a replicated primary), not a cluster.
//
// A job is a hash `<p>job:<id>` of scalar fields (JSON-valued fields are opaque strings, never
// decoded in Lua, so empty arrays stay arrays). Indexes: `<p>jobs` (all, by seq),
// `<p>st:<status>` (by seq), `<p>op:<operation>` (by seq), `<p>done` (terminal, by completion
// time), `<p>counts` (hash status → n). `<p>hist:<id>` is the audit trail ("from|to|at|attempt").

const TERMINAL = `local terminal = {completed=true, failed=true, cancelled=true, timeout=true}`;

/**
 * ARGV: prefix, id, idempotency key ('' none), document, now, operation, then field/value pairs.
 * Returns {kind, <HGETALL of the deciding job>}.
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
local fields = {'seq', seq, 'status', 'pending', 'document', doc}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', jk, unpack(fields))
redis.call('ZADD', p .. 'jobs', seq, id)
redis.call('ZADD', p .. 'st:pending', seq, id)
redis.call('ZADD', p .. 'op:' .. op, seq, id)
redis.call('HINCRBY', p .. 'counts', 'pending', 1)
if idem ~= '' then redis.call('SET', p .. 'idem:' .. idem, id) end
redis.call('RPUSH', p .. 'hist:' .. id, '|pending|' .. now .. '|' .. redis.call('HGET', jk, 'attempt'))
return {'created', redis.call('HGETALL', jk)}
`;

/**
 * Compare-and-set. ARGV: prefix, id, from (comma list), to, now, guard worker ('' none),
 * guard attempt ('' none), result document ('' none), then field/value pairs to set.
 * Returns the fields after the move (without `document`), or nil when the status (or the guard)
 * did not match.
 */
export const TRANSITION = `
${TERMINAL}
local p, id, from, to, now, gw, ga, result = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local jk = p .. 'job:' .. id
local st = redis.call('HGET', jk, 'status')
if not st then return false end
local allowed = false
for f in string.gmatch(from, '[^,]+') do if f == st then allowed = true end end
if not allowed then return false end
if gw ~= '' and redis.call('HGET', jk, 'worker_id') ~= gw then return false end
if ga ~= '' and redis.call('HGET', jk, 'attempt') ~= ga then return false end
if #ARGV > 8 then
  local fields = {}
  for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', jk, unpack(fields))
end
redis.call('HSET', jk, 'status', to)
local seq = redis.call('HGET', jk, 'seq')
if st ~= to then
  redis.call('ZREM', p .. 'st:' .. st, id)
  redis.call('ZADD', p .. 'st:' .. to, seq, id)
  redis.call('HINCRBY', p .. 'counts', st, -1)
  redis.call('HINCRBY', p .. 'counts', to, 1)
  redis.call('RPUSH', p .. 'hist:' .. id, st .. '|' .. to .. '|' .. now .. '|' .. redis.call('HGET', jk, 'attempt'))
end
if terminal[to] then
  if result ~= '' then redis.call('SET', p .. 'result:' .. id, result) end
  redis.call('ZADD', p .. 'done', now, id)
end
-- Everything but the envelope document, which the caller already has (it never changes).
local all, out = redis.call('HGETALL', jk), {}
for i = 1, #all, 2 do
  if all[i] ~= 'document' then out[#out + 1] = all[i]; out[#out + 1] = all[i + 1] end
end
return out
`;

/** Progress event: ARGV prefix, id, event JSON, progress JSON, keep. Ignored for unknown or terminal jobs. */
export const APPEND_EVENT = `
${TERMINAL}
local p, id = ARGV[1], ARGV[2]
local jk = p .. 'job:' .. id
local st = redis.call('HGET', jk, 'status')
if not st or terminal[st] then return 0 end
local ek = p .. 'ev:' .. id
redis.call('RPUSH', ek, ARGV[3])
redis.call('LTRIM', ek, -tonumber(ARGV[5]), -1)
redis.call('HSET', jk, 'progress', ARGV[4])
return 1
`;

/** Lua: deletes every key of the terminal job `id` under prefix `p`. */
const FORGET = `
local function forget(p, id)
  local jk = p .. 'job:' .. id
  local st = redis.call('HGET', jk, 'status')
  local op = redis.call('HGET', jk, 'operation')
  local idem = redis.call('HGET', jk, 'idem')
  if st then
    redis.call('ZREM', p .. 'st:' .. st, id)
    redis.call('HINCRBY', p .. 'counts', st, -1)
  end
  if op then redis.call('ZREM', p .. 'op:' .. op, id) end
  if idem and idem ~= '' and redis.call('GET', p .. 'idem:' .. idem) == id then
    redis.call('DEL', p .. 'idem:' .. idem)
  end
  redis.call('ZREM', p .. 'jobs', id)
  redis.call('ZREM', p .. 'done', id)
  redis.call('DEL', jk, p .. 'result:' .. id, p .. 'ev:' .. id, p .. 'hist:' .. id)
end
`;

/** Deletes up to ARGV[3] terminal jobs finished before ARGV[2]. Returns how many. */
export const PURGE = `${FORGET}
local p, before, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', p .. 'done', '-inf', '(' .. before, 'LIMIT', 0, batch)
for _, id in ipairs(ids) do forget(p, id) end
return #ids
`;

/** Deletes the job ARGV[2] if it is terminal (in the done set). Returns 1, or 0 when it is not. */
export const DELETE_DONE = `${FORGET}
local p, id = ARGV[1], ARGV[2]
if not redis.call('ZSCORE', p .. 'done', id) then return 0 end
forget(p, id)
return 1
`;
