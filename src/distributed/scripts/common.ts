// Lua fragments the store's scripts share. A job is a hash `<p>job:<id>` of scalar fields
// (JSON-valued fields are opaque strings, never decoded in Lua, so empty arrays stay arrays).
// Indexes: `<p>jobs` (all, by seq), `<p>st:<status>` (by seq), `<p>op:<operation>` (by seq),
// `<p>done` (terminal, by completion time), `<p>counts` (hash status → n). `<p>hist:<id>` is the
// audit trail ("from|to|at|attempt"), `<p>ev:<id>` the newest progress events, `<p>result:<id>`
// the result document. Keys are built from a prefix inside the scripts, so the store needs one
// Redis (or a replicated primary), not a cluster.

export const TERMINAL = `local terminal = {completed=true, failed=true, cancelled=true, timeout=true}`;

/**
 * `fenced(jk, gw, ga)`: the run guard, true when the job's worker is `gw` and its attempt `ga`
 * ('' checks nothing). `append_events(p, id, jk, keep, progress, first, last)`: pushes
 * ARGV[first..last] (event JSON) keeping the newest `keep`, and sets the job's progress.
 */
export const RUN_HELPERS = `
local function fenced(jk, gw, ga)
  if gw ~= '' and redis.call('HGET', jk, 'worker_id') ~= gw then return false end
  if ga ~= '' and redis.call('HGET', jk, 'attempt') ~= ga then return false end
  return true
end
local function append_events(p, id, jk, keep, progress, first, last)
  local ek = p .. 'ev:' .. id
  redis.call('RPUSH', ek, unpack(ARGV, first, last))
  redis.call('LTRIM', ek, -tonumber(keep), -1)
  redis.call('HSET', jk, 'progress', progress)
end
`;

/** Lua: `forget(p, id)` deletes every key of the terminal job `id` under prefix `p`. */
export const FORGET = `
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
