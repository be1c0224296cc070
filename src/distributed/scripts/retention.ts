// Deleting terminal jobs: the retention sweep and the delete of one finished job.
import { FORGET } from './common.js';

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
