// buildJob checks payload.data against the operation's schema at run time as well (tsc checks it
// for TypeScript callers; plain JavaScript and data from JSON get the same refusal): the error
// names the field, as the worker's own validation does.
import { describe, expect, it } from 'vitest';
import { buildJob, inspectJob, JobBuilder } from '../../src/protocol/builder.js';
import { OPERATION_NAMES, OPERATION_PAYLOADS } from '../../src/protocol/payloads/index.js';

/** What plain JavaScript may pass: no compile-time check. */
const untyped = buildJob as (op: string, data: unknown) => unknown;

describe('buildJob', () => {
  it.each(OPERATION_NAMES)('%s: builds its documented example', (op) => {
    const job = buildJob(op, OPERATION_PAYLOADS[op].example as never, (b) => b.priority(3));
    expect(job).toMatchObject({ operation: op, payload: { type: `${op}.v1` }, execution: { priority: 3 } });
  });

  it.each([
    ['guestkit.inspect', { image: { path: 1 } }, 'payload.data.image.path - must be string'],
    ['guestkit.inspect', {}, "payload.data - must have required property 'image'"],
    [
      'guestkit.inspect',
      { image: { path: '/i', format: 'iso' } },
      'payload.data.image.format - must be equal to one of the allowed values',
    ],
    [
      'guestkit.profile',
      { image: { path: '/i' }, profiles: ['secrity'] },
      'payload.data.profiles[0] - must be equal to one of the allowed values',
    ],
    ['system.echo', { sleep_ms: -1 }, 'payload.data.sleep_ms - must be >= 0'],
  ])('%s refuses %j', (op, data, message) => {
    expect(() => untyped(op, data)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: `Invalid field value: ${message}` }),
    );
  });

  it('inspectJob takes a typed payload (checked) or a path (passed on as typed by a person)', () => {
    expect(() => (inspectJob as (d: unknown) => unknown)({ image: { path: 7 } })).toThrow(
      'Invalid field value: payload.data.image.path - must be string',
    );
    // The CLI's --format: the worker's validator normalises the case, so the builder does not judge it.
    expect(inspectJob('/images/a.qcow2', { format: 'QCOW2' }).payload.data).toEqual({
      image: { path: '/images/a.qcow2', format: 'QCOW2' },
    });
    // JobBuilder is not checked at run time (custom operations, the CLI's raw --data).
    expect(new JobBuilder<string>('guestkit.inspect').data({ image: { path: 1 } }).build().operation).toBe(
      'guestkit.inspect',
    );
  });
});
