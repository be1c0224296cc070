// Progress events written on their own (a running job's progress between two status moves).
import { RUN_HELPERS, TERMINAL } from './common.js';

/**
 * ARGV: prefix, id, guard worker ('' none), guard attempt ('' none), events kept per job, progress
 * of the last event, then the events (JSON). Ignored (0) for unknown or terminal jobs and for a run
 * that lost its fence; 1 when stored.
 */
export const APPEND_EVENTS = `
${TERMINAL}
${RUN_HELPERS}
local p, id = ARGV[1], ARGV[2]
local jk = p .. 'job:' .. id
local st = redis.call('HGET', jk, 'status')
if not st or terminal[st] or not fenced(jk, ARGV[3], ARGV[4]) then return 0 end
append_events(p, id, jk, ARGV[5], ARGV[6], 7, #ARGV)
return 1
`;
