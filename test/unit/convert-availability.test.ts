// Capabilities list guestkit.convert/fix only when their tools exist: with qemu-img pointed at a
// missing binary both disappear from the registration document and submissions are refused with
// CAPABILITY_MISMATCH saying what to install.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertHandler } from '../../src/handlers/convert/index.js';
import { fixHandler } from '../../src/handlers/fix/index.js';
import { HandlerRegistry, systemEchoHandler } from '../../src/handlers/index.js';
import { job, startTestWorker, type TestWorker } from './worker-helpers.js';

let tw: TestWorker;
const saved = process.env.GUESTKIT_QEMU_IMG;

beforeAll(async () => {
  process.env.GUESTKIT_QEMU_IMG = '/nonexistent/qemu-img';
  tw = await startTestWorker(
    {},
    new HandlerRegistry().register(systemEchoHandler).register(convertHandler).register(fixHandler),
  );
});

afterAll(async () => {
  if (saved === undefined) delete process.env.GUESTKIT_QEMU_IMG;
  else process.env.GUESTKIT_QEMU_IMG = saved;
  await tw?.cleanup();
});

describe('handler availability', () => {
  it('leaves convert and fix out of the capabilities without qemu-img', async () => {
    const ops = (await tw.worker.capabilities()).capabilities.operations;
    expect(ops).toContain('system.echo');
    expect(ops).not.toContain('guestkit.convert');
    expect(ops).not.toContain('guestkit.fix');
    expect(tw.registry.has('guestkit.convert')).toBe(true);
  });

  it('refuses a convert job with CAPABILITY_MISMATCH naming the missing tool', async () => {
    const envelope = job('guestkit.convert', { source: { path: 'a' }, target: { path: 'b', format: 'raw' } });
    await expect(tw.worker.submit(envelope)).rejects.toMatchObject({
      code: 'CAPABILITY_MISMATCH',
      message: expect.stringMatching(/cannot run guestkit.convert: qemu-img not found .*qemu-utils/),
    });
  });
});
