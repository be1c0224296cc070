// guestkit.inspect.v1 payload validation (operations.md): formats, ova, checksum syntax through
// parseChecksum's messages, option types, output block.
import { describe, expect, it } from 'vitest';
import { validateInspectPayload } from '../../src/handlers/inspect/payload.js';

const HEX = 'AB'.repeat(32);
const ok = (data: unknown) => validateInspectPayload(data);
const refused = (data: unknown) => {
  try {
    validateInspectPayload(data);
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('accepted');
};

describe('guestkit.inspect payload', () => {
  it('defaults every include_* to true, with or without options', () => {
    const a = ok({ image: { path: '/vms/a.qcow2' } });
    expect(Object.values(a.options).filter((v) => v === true)).toHaveLength(7);
    expect(a.options.deep_scan).toBe(false);
    const b = ok({ image: { path: '/vms/a.qcow2' }, options: { include_users: false } });
    expect(b.options).toMatchObject({ include_users: false, include_packages: true });
    expect(b.output).toEqual({ format: 'json', destination: undefined, compression: null });
  });

  it('normalises formats (img = raw) and refuses unknown ones and OVA with their own codes', () => {
    expect(ok({ image: { path: '/a.img', format: 'img' } }).image.format).toBe('raw');
    expect(ok({ image: { path: '/a', format: 'VMDK' } }).image.format).toBe('vmdk');
    expect(refused({ image: { path: '/a', format: 'iso' } })).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('must be one of qcow2, raw, vmdk, vdi, vhdx, img'),
    });
    expect(refused({ image: { path: '/a.ova', format: 'ova' } })).toMatchObject({
      code: 'UNSUPPORTED_IMAGE_FORMAT',
      message: expect.stringContaining('OVA'),
    });
  });

  it('accepts sha256:<hex> and bare hex in any case, and refuses the rest with parseChecksum messages', () => {
    expect(ok({ image: { path: '/a', checksum: `  sha256:${HEX} ` } }).image.checksum).toBe(
      HEX.toLowerCase(),
    );
    expect(ok({ image: { path: '/a', checksum: HEX } }).image.checksum).toBe(HEX.toLowerCase());
    expect(refused({ image: { path: '/a', checksum: `md5:${HEX}` } })).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: "Unsupported checksum algorithm: md5. Only 'sha256' is supported.",
    });
    expect(refused({ image: { path: '/a', checksum: 'sha256:abc' } }).code).toBe('VALIDATION_ERROR');
  });

  it('names the field of every other mistake', () => {
    expect(refused({}).message).toBe('Missing required field: payload.data.image');
    expect(refused({ image: {} }).message).toBe('Missing required field: payload.data.image.path');
    expect(refused({ image: { path: '' } }).message).toContain('payload.data.image.path');
    expect(refused({ image: { path: '/a' }, options: { include_users: 'yes' } }).message).toContain(
      'payload.data.options.include_users - must be a boolean',
    );
    expect(refused({ image: { path: '/a' }, output: { format: 'xml' } }).message).toContain(
      'payload.data.output.format',
    );
    expect(refused({ image: { path: '/a' }, output: { compression: 'zstd' } }).message).toContain('zstd');
    expect(
      ok({ image: { path: '/a' }, output: { format: 'yaml', destination: '/o/r.yaml', compression: 'gzip' } })
        .output,
    ).toEqual({
      format: 'yaml',
      destination: '/o/r.yaml',
      compression: 'gzip',
    });
  });
});
