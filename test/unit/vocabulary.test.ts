// One vocabulary: the schema, the stores, the CLI and the dashboard use the same lists.
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { STATUSES, TERMINAL } from '../../src/dashboard/ui/types.js';
import { ALL_STATUSES } from '../../src/distributed/store.js';
import { JobStatusSchema } from '../../src/protocol/schema.js';
import {
  DISK_FORMATS,
  JOB_STATUSES,
  OPERATIONS,
  PROTOCOL_ERROR_CODES,
  TERMINAL_STATUSES,
  isTerminal,
} from '../../src/protocol/vocabulary.js';
import { CONVERT_FORMATS } from '../../src/tools/qemu-img.js';
import { DRIVE_FORMATS } from '../../lib/appliance/index.js';
import { LIBRARY_ERROR_CODES } from '../../lib/errors.js';
import { defaultRegistry } from '../../src/handlers/index.js';

describe('vocabulary', () => {
  it('the status schema accepts exactly the statuses', () => {
    for (const s of JOB_STATUSES) expect(Value.Check(JobStatusSchema, s)).toBe(true);
    expect(Value.Check(JobStatusSchema, 'paused')).toBe(false);
    expect(JOB_STATUSES.filter(isTerminal)).toEqual([...TERMINAL_STATUSES]);
  });

  it('stores, dashboard and formats share the lists (same objects, not copies)', () => {
    expect(ALL_STATUSES).toBe(JOB_STATUSES);
    expect(STATUSES).toBe(JOB_STATUSES);
    expect([...TERMINAL]).toEqual([...TERMINAL_STATUSES]);
    expect(CONVERT_FORMATS).toBe(DISK_FORMATS);
    expect(DRIVE_FORMATS).toBe(DISK_FORMATS);
    expect(PROTOCOL_ERROR_CODES.slice(0, LIBRARY_ERROR_CODES.length)).toEqual([...LIBRARY_ERROR_CODES]);
  });

  it('every built-in operation name has its handler', () => {
    for (const op of Object.values(OPERATIONS)) expect(defaultRegistry.has(op)).toBe(true);
  });
});
