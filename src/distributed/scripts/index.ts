// Lua scripts that make the store's decisions atomic inside Redis, one file per script (shared
// fragments in common.ts). The store registers them as ioredis commands (EVALSHA, loaded on first use).
import { CREATE } from './create.js';
import { APPEND_EVENTS } from './events.js';
import { MOVE } from './move.js';
import { DELETE_DONE, PURGE } from './retention.js';

export { MUTABLE_FIELDS } from './move.js';

/** Command name → Lua source. Names are prefixed: BullMQ defines its own commands on shared clients. */
export const SCRIPTS = {
  gkCreate: CREATE,
  gkMove: MOVE,
  gkAppendEvents: APPEND_EVENTS,
  gkPurge: PURGE,
  gkDeleteDone: DELETE_DONE,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
