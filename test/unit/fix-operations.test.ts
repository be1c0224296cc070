// guestkit.fix logic without an appliance: payload validation, the operation registry, each
// bundled operation against an in-memory guest (a fake of the few Guestfs calls they make), and
// the stop_on_error sequencing. The real appliance flows are in test/integration/fix.test.ts.
import { describe, expect, it } from 'vitest';
import type { Guestfs } from '../../lib/guestfs.js';
import {
  defaultFixOperations,
  FixOperationRegistry,
  fsckOperation,
  hostArch,
  initramfsOperation,
  resetMachineIdOperation,
  selinuxRelabelOperation,
  setHostnameOperation,
  validateFixPayload,
  type FixOperation,
  type GuestOs,
} from '../../src/handlers/fix/index.js';
import type { FixAppliance } from '../../src/handlers/fix/appliance.js';
import { newReport, runSteps } from '../../src/handlers/fix/steps.js';
import type { PreparedImage } from '../../src/handlers/image.js';
import type { HandlerContext } from '../../src/handlers/types.js';
import { silentLogger } from '../../src/logger.js';

/** An in-memory guest: files, symlinks, and a log of commands run. */
function fakeGuest(files: Record<string, string>, extra: Partial<Record<string, unknown>> = {}) {
  const fs = new Map(Object.entries(files));
  const links = new Set<string>();
  const calls: string[] = [];
  const g = {
    isFile: async (p: string) => fs.has(p),
    isDir: async (p: string) => [...fs.keys()].some((k) => k.startsWith(`${p}/`)),
    isSymlink: async (p: string) => links.has(p),
    ls: async (p: string) => [
      ...new Set(
        [...fs.keys()].filter((k) => k.startsWith(`${p}/`)).map((k) => k.slice(p.length + 1).split('/')[0]),
      ),
    ],
    readLines: async (p: string) => (fs.get(p) ?? '').replace(/\n$/, '').split('\n'),
    write: async (p: string, c: string) => void fs.set(p, c),
    truncate: async (p: string) => void fs.set(p, ''),
    touch: async (p: string) => void fs.set(p, fs.get(p) ?? ''),
    rm: async (p: string) => void fs.delete(p),
    rmF: async (p: string) => void fs.delete(p),
    command: async (argv: string[]) => {
      calls.push(argv.join(' '));
      return 'ok\n';
    },
    featureAvailable: async () => true,
    selinuxRelabel: async (spec: string, path: string) => void calls.push(`setfiles ${spec} ${path}`),
    listFilesystems: async () => ({ '/dev/sda1': 'ext4', '/dev/sda2': 'swap', '/dev/sda3': 'xfs' }),
    e2fsck: async (dev: string, o: object) => void calls.push(`e2fsck ${dev} ${JSON.stringify(o)}`),
    xfsRepair: async (dev: string, o: { nomodify?: boolean }) => {
      calls.push(`xfs_repair ${dev} ${JSON.stringify(o)}`);
      return o.nomodify ? 1 : 0;
    },
    ...extra,
  };
  return { g: g as unknown as Guestfs, fs, links, calls };
}

const OS: GuestOs = {
  root: '/dev/sda1',
  type: 'linux',
  distro: 'rocky',
  productName: 'Rocky Linux 9',
  arch: hostArch(),
  hostname: 'old',
  majorVersion: 9,
  minorVersion: 3,
  mountpoints: { '/': '/dev/sda1' },
  filesystems: ['/dev/sda1', '/dev/sda2', '/dev/sda3'],
};

async function runOp<T>(op: FixOperation<T>, g: Guestfs, options: Record<string, unknown> = {}, os = OS) {
  const log: string[] = [];
  const outcome = await op.run({
    g,
    os,
    options: op.validateOptions(options, 'opts'),
    signal: new AbortController().signal,
    log: (l) => log.push(l),
  });
  return { ...outcome, log };
}

describe('validateFixPayload', () => {
  const reg = defaultFixOperations;
  it('applies defaults and validates each operation through its own validateOptions', () => {
    const r = validateFixPayload(
      {
        image: { path: '/vms/a.qcow2', backup_path: '/vms/a.bak' },
        operations: [{ type: 'set_hostname', options: { hostname: 'web-1.example.com' } }, { type: 'fsck' }],
      },
      reg,
    );
    expect(r).toEqual({
      image: { path: '/vms/a.qcow2', readOnly: false, createBackup: true, backupPath: '/vms/a.bak' },
      operations: [
        { type: 'set_hostname', options: { hostname: 'web-1.example.com' } },
        { type: 'fsck', options: { autoRepair: true, forceAll: false } },
      ],
      stopOnError: true,
      validateBeforeCommit: true,
      output: { reportFormat: 'json' },
    });
  });

  it.each([
    [{ operations: [{ type: 'fsck' }] }, /Missing required field: payload.data.image/],
    [
      { image: { path: 'a' } },
      /operations .*known types: bootloader_cmdline, fsck, fstab_stable_names, initramfs_add_drivers, initramfs_regenerate, /,
    ],
    [{ image: { path: 'a' }, operations: [{ options: {} }] }, /operations\[0\].type/],
    [
      {
        image: { path: 'a' },
        operations: [{ type: 'fsck', options: { force_all: true, auto_repair: false } }],
      },
      /force_all - needs auto_repair/,
    ],
    [
      { image: { path: 'a' }, operations: [{ type: 'set_hostname', options: { hostname: '-bad' } }] },
      /hostname - must be a host name/,
    ],
    [
      { image: { path: 'a' }, operations: [{ type: 'set_hostname', options: { hostname: 'x'.repeat(65) } }] },
      /at most 64/,
    ],
    [
      { image: { path: 'a', read_only: true }, operations: [{ type: 'fsck' }] },
      /read-only.*output.fixed_image/,
    ],
    [
      { image: { path: 'a', backup_path: 'b', create_backup: false }, operations: [{ type: 'fsck' }] },
      /create_backup is false/,
    ],
    [
      { image: { path: 'a' }, operations: [{ type: 'fsck' }], output: { report_format: 'xml' } },
      /report_format/,
    ],
    [
      { image: { path: 'a' }, operations: [{ type: 'fsck' }], output: { fixed_image_format: 'raw' } },
      /needs output.fixed_image/,
    ],
  ])('refuses %j', (data, message) => {
    expect(() => validateFixPayload(data, reg)).toThrow(message);
  });

  it('accepts read_only with fixed_image', () => {
    const r = validateFixPayload(
      { image: { path: 'a', read_only: true }, operations: [{ type: 'fsck' }], output: { fixed_image: 'b' } },
      reg,
    );
    expect(r.output.fixedImage).toBe('b');
  });
});

describe('FixOperationRegistry', () => {
  it('refuses duplicates unless replacing; clones are independent', () => {
    const r = new FixOperationRegistry().register(fsckOperation);
    expect(() => r.register(fsckOperation)).toThrow(/already registered/);
    r.register(fsckOperation, { replace: true });
    const c = r.clone().register(setHostnameOperation);
    expect(c.types()).toEqual(['fsck', 'set_hostname']);
    expect(r.types()).toEqual(['fsck']);
  });
});

describe('bundled operations', () => {
  it('set_hostname writes /etc/hostname and replaces HOSTNAME= on RHEL-family guests', async () => {
    const guest = fakeGuest({
      '/etc/hostname': 'old\n',
      '/etc/sysconfig/network': 'NETWORKING=yes\nHOSTNAME=old\n',
    });
    const r = await runOp(setHostnameOperation, guest.g, { hostname: 'new-host' });
    expect(r).toMatchObject({ status: 'success', changed: true });
    expect(guest.fs.get('/etc/hostname')).toBe('new-host\n');
    expect(guest.fs.get('/etc/sysconfig/network')).toBe('NETWORKING=yes\nHOSTNAME=new-host\n');
    const debian = fakeGuest({ '/etc/hostname': 'new-host\n', '/etc/sysconfig/network': 'X=1\n' });
    const d = await runOp(
      setHostnameOperation,
      debian.g,
      { hostname: 'new-host' },
      { ...OS, distro: 'debian' },
    );
    expect(d.changed).toBe(false);
    expect(debian.fs.get('/etc/sysconfig/network')).toBe('X=1\n');
  });

  it('reset_machine_id truncates /etc/machine-id and drops a regular D-Bus copy, not the symlink', async () => {
    const guest = fakeGuest({ '/etc/machine-id': 'abc\n', '/var/lib/dbus/machine-id': 'abc\n' });
    expect(await runOp(resetMachineIdOperation, guest.g)).toMatchObject({ status: 'success', changed: true });
    expect(guest.fs.get('/etc/machine-id')).toBe('');
    expect(guest.fs.has('/var/lib/dbus/machine-id')).toBe(false);
    const linked = fakeGuest({ '/etc/machine-id': '', '/var/lib/dbus/machine-id': '' });
    linked.links.add('/var/lib/dbus/machine-id');
    expect(await runOp(resetMachineIdOperation, linked.g)).toMatchObject({ changed: false });
    expect(linked.fs.has('/var/lib/dbus/machine-id')).toBe(true);
  });

  it('selinux_relabel fails clearly without config or policy, relabels with the guest policy otherwise', async () => {
    expect(await runOp(selinuxRelabelOperation, fakeGuest({}).g)).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/no SELinux configuration/),
    });
    const noPolicy = fakeGuest({ '/etc/selinux/config': 'SELINUX=enforcing\nSELINUXTYPE=mls\n' });
    expect(await runOp(selinuxRelabelOperation, noPolicy.g)).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/policy 'mls' is not installed/),
    });
    const ok = fakeGuest({
      '/etc/selinux/config': 'SELINUXTYPE=targeted\n',
      '/etc/selinux/targeted/contexts/files/file_contexts': '/.* system_u:object_r:default_t:s0\n',
    });
    expect(await runOp(selinuxRelabelOperation, ok.g)).toMatchObject({ status: 'success', changed: true });
    expect(ok.calls).toEqual(['setfiles /etc/selinux/targeted/contexts/files/file_contexts /']);
  });

  it('initramfs_regenerate refuses a foreign arch and uses the guest tool per kernel', async () => {
    const foreign = await runOp(initramfsOperation, fakeGuest({}).g, {}, { ...OS, arch: 'riscv-foreign' });
    expect(foreign).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/riscv-foreign.*use a/),
    });
    const none = fakeGuest({ '/lib/modules/6.1.0/modules.dep': '' });
    expect(await runOp(initramfsOperation, none.g)).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/No initramfs tool/),
    });
    const dracut = fakeGuest({
      '/lib/modules/5.14.0/modules.dep': '',
      '/lib/modules/5.14.1/modules.dep': '',
      '/usr/bin/dracut': '#!/bin/sh',
    });
    expect(await runOp(initramfsOperation, dracut.g)).toMatchObject({ status: 'success' });
    expect(dracut.calls).toEqual(['/usr/bin/dracut -f --kver 5.14.0', '/usr/bin/dracut -f --kver 5.14.1']);
  });

  it('fsck repairs ext and xfs, skips swap; check-only xfs problems fail', async () => {
    const repair = fakeGuest({});
    const r = await runOp(fsckOperation, repair.g, {});
    expect(r.status).toBe('success');
    expect(repair.calls).toEqual([
      'e2fsck /dev/sda1 {"correct":true}',
      'xfs_repair /dev/sda3 {"nomodify":false}',
    ]);
    expect(r.details?.filesystems).toContainEqual({
      device: '/dev/sda2',
      type: 'swap',
      result: 'skipped (no checker for swap)',
    });
    const check = await runOp(fsckOperation, fakeGuest({}).g, { auto_repair: false });
    expect(check).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/xfs_repair found problems on \/dev\/sda3/),
    });
  });
});

describe('runSteps', () => {
  const failing: FixOperation<Record<string, never>> = {
    type: 'always_fails',
    description: 'test',
    needs: 'unmounted',
    validateOptions: () => ({}),
    async run() {
      throw new Error('boom');
    },
  };
  const registry = defaultFixOperations.clone().register(failing);

  async function steps(stopOnError: boolean) {
    const data = validateFixPayload(
      {
        image: { path: 'a' },
        operations: [{ type: 'reset_machine_id' }, { type: 'always_fails' }, { type: 'reset_machine_id' }],
        execution_policy: { stop_on_error: stopOnError },
      },
      registry,
    );
    const guest = fakeGuest({ '/etc/machine-id': 'x' });
    const mounts: string[] = [];
    const appliance = {
      g: guest.g,
      mount: async () => void mounts.push('mount'),
      unmount: async () => void mounts.push('unmount'),
    } as unknown as FixAppliance;
    const report = newReport(data, { path: 'a', format: 'raw' } as PreparedImage, {
      fixedImage: null,
      fixedImageFormat: 'raw',
      backupPath: null,
      logPath: undefined,
    });
    const ctx = {
      data,
      signal: new AbortController().signal,
      progress: () => undefined,
      logger: silentLogger(),
    } as unknown as HandlerContext<typeof data>;
    await runSteps(ctx, registry, appliance, OS, report);
    return { report, mounts };
  }

  it('stop_on_error skips the rest; otherwise every step runs and failures are recorded', async () => {
    const stopped = await steps(true);
    expect(stopped.report.operations.map((o) => o.status)).toEqual(['success', 'failed', 'skipped']);
    expect(stopped.report.operations[1].message).toBe('boom');
    expect(stopped.mounts).toEqual(['mount', 'unmount']);
    const all = await steps(false);
    expect(all.report.operations.map((o) => o.status)).toEqual(['success', 'failed', 'success']);
  });
});
