// guestkit.convert payload validation: both shapes, defaults, and every refusal naming its field.
import { describe, expect, it } from 'vitest';
import { validateConvertPayload } from '../../src/handlers/convert/payload.js';

const HEX = 'ab'.repeat(32);

describe('validateConvertPayload', () => {
  it('reads the v1 form with defaults (verify and sparse on, no compression)', () => {
    expect(
      validateConvertPayload({
        source: { path: '/vms/a.img' },
        target: { path: '/out/a.qcow2', format: 'QCOW2' },
      }),
    ).toEqual({
      form: 'v1',
      source: { path: '/vms/a.img' },
      target: { path: '/out/a.qcow2', format: 'qcow2', compression: false },
      verify: true,
      preserveSparse: true,
    });
  });

  it('normalises the checksum and defaults compression_type to zlib', () => {
    const r = validateConvertPayload({
      source: { path: 'a', format: 'img', checksum: ` SHA256:${HEX.toUpperCase()} ` },
      target: { path: 'b', format: 'qcow2', compression: true },
      options: { verify_after_convert: false, preserve_sparse: false },
    });
    expect(r.source).toEqual({ path: 'a', format: 'img', checksum: HEX });
    expect(r.target).toMatchObject({ compression: true, compressionType: 'zlib' });
    expect(r).toMatchObject({ verify: false, preserveSparse: false });
  });

  it('reads the older flat form without a target path', () => {
    expect(
      validateConvertPayload({
        image: { path: 'a.vmdk', format: 'vmdk' },
        target_format: 'vdi',
        compression: false,
      }),
    ).toEqual({
      form: 'flat',
      source: { path: 'a.vmdk', format: 'vmdk' },
      target: { format: 'vdi', compression: false },
      verify: true,
      preserveSparse: true,
    });
  });

  it.each([
    [undefined, /Missing required field: payload.data/],
    [{}, /Missing required field: payload.data.source \(or payload.data.image/],
    [{ source: { path: 'a' } }, /Missing required field: payload.data.target/],
    [{ source: { path: 'a' }, target: { path: 'b' } }, /Missing required field: payload.data.target.format/],
    [
      { source: { path: 'a' }, target: { path: 'b', format: 'vpc' } },
      /target.format - must be one of qcow2, raw/,
    ],
    [{ source: { format: 'raw' }, target: { path: 'b', format: 'raw' } }, /payload.data.source.path/],
    [{ source: { path: 'a', format: 'ova' }, target: { path: 'b', format: 'raw' } }, /ova archives/],
    [
      { source: { path: 'a', checksum: 'md5:abc' }, target: { path: 'b', format: 'raw' } },
      /Unsupported checksum algorithm: md5/,
    ],
    [{ source: { path: 'a', checksum: 'abc' }, target: { path: 'b', format: 'raw' } }, /64 hex digits/],
    [
      { source: { path: 'a' }, target: { path: 'b', format: 'vmdk', compression: true } },
      /qcow2 targets only/,
    ],
    [
      { source: { path: 'a' }, target: { path: 'b', format: 'qcow2', compression_type: 'zstd' } },
      /compression_type - needs compression: true/,
    ],
    [
      {
        source: { path: 'a' },
        target: { path: 'b', format: 'qcow2', compression: true, compression_type: 'lz4' },
      },
      /compression_type - must be one of zlib, zstd/,
    ],
    [
      { source: { path: 'a' }, target: { path: 'b', format: 'raw' }, options: { preserve_sparse: 'yes' } },
      /true or false/,
    ],
    [{ image: { path: 'a' } }, /Missing required field: payload.data.target_format/],
    [{ image: { path: 'a' }, target_format: 'raw', compression: true }, /qcow2 targets only/],
  ])('refuses %j', (data, message) => {
    expect(() => validateConvertPayload(data)).toThrow(message);
    try {
      validateConvertPayload(data);
    } catch (err) {
      expect(err).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
  });
});
