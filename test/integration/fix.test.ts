// guestkit.fix through a real worker (SQLite store in a temp dir), real qemu-img overlays and real
// libguestfs appliances. APPLIANCE LAUNCHES: 4 full ones (one per fix job below) + 1 killed
// early by a timeout. Every image is a copy of a fixture in a temp dir; the cached fixtures are
// never written. Guest files are read back host-side (debugfs), without another launch.
import { execFile } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../lib/checksum.js';
import {
  createFixHandler,
  defaultFixOperations,
  type FixOperation,
  type FixReport,
} from '../../src/handlers/fix/index.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { readGuestFile, readPartitionTable } from '../fixtures/inspect-image.js';
import { job, startTestWorker, until, type TestWorker } from '../unit/worker-helpers.js';

const execFileP = promisify(execFile);

/** Test-only operation: makes the guest unrecognisable, so validate_before_commit must refuse. */
const breakOsRelease: FixOperation<Record<string, never>> = {
  type: 'test_break_os_release',
  description: 'removes the files libguestfs identifies the distribution by',
  needs: 'mounted',
  validateOptions: () => ({}),
  async run({ g }) {
    for (const f of ['/etc/os-release', '/usr/lib/os-release', '/etc/debian_version', '/etc/lsb-release']) {
      await g.rmF(f);
    }
    return { status: 'success', message: 'distribution files removed', changed: true };
  },
};

let tw: TestWorker;
let debian: Fixture;
let rhel: Fixture;
let n = 0;

async function copyOf(fx: Fixture): Promise<string> {
  const dest = join(tw.dir, `img-${n++}-${fx.name}.${fx.format === 'raw' ? 'img' : fx.format}`);
  await execFileP('cp', ['--sparse=always', fx.path, dest]);
  return dest;
}

async function runFix(data: unknown, timeout = 300): Promise<ResultDocument> {
  const envelope = job('guestkit.fix', data, (b) => b.timeout(timeout));
  await tw.worker.submit(envelope);
  await tw.worker.waitFor(envelope.job_id);
  return (await tw.worker.result(envelope.job_id)) as ResultDocument;
}

/** A guest file of partition `part` (0-based), host-side; qcow2 images are flattened first. */
async function guestFile(image: string, format: string, part: number, path: string): Promise<string> {
  let raw = image;
  if (format !== 'raw') {
    raw = `${image}.flat.raw`;
    await execFileP('qemu-img', ['convert', '-f', format, '-O', 'raw', image, raw]);
  }
  try {
    const table = await readPartitionTable(raw);
    return await readGuestFile(raw, table!.partitions[part].start * 512, path);
  } finally {
    if (raw !== image) await rm(raw, { force: true });
  }
}

async function leftovers(): Promise<{ workDirs: string[]; qemu: string }> {
  const workDirs = (await readdir(tw.dir)).filter((f) => f.startsWith('fix-'));
  const { stdout } = await execFileP('pgrep', ['-af', tw.dir]).catch(() => ({ stdout: '' }));
  return { workDirs, qemu: stdout.trim() };
}

/**
 * libguestfs' socket dirs: in /tmp, as the handle reads no environment (no XDG_RUNTIME_DIR).
 * close() removes them by forking `rm -rf`; a kill retried from JS during close once SIGKILLed
 * that child, leaving one behind for every timed-out job. A live appliance names its socket dir
 * on qemu's command line, which tells another test file's dirs from leaked ones.
 */
async function libguestfsDirs(): Promise<string[]> {
  const names = await readdir('/tmp').catch(() => [] as string[]);
  return names.filter((name) => /^libguestfs[A-Za-z0-9]{6}$/.test(name)).map((name) => join('/tmp', name));
}

/** Whether some live process (another test file's appliance) names the path in its command line. */
async function inUse(path: string): Promise<boolean> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(path)) return true;
  }
  return false;
}

beforeAll(async () => {
  [debian, rhel] = await getFixtures(['debian-like', 'rhel-like']);
  tw = await startTestWorker({ maxConcurrent: 1 });
  tw.registry.register(
    createFixHandler({ operations: defaultFixOperations.clone().register(breakOsRelease) }),
    {
      replace: true,
    },
  );
});

afterAll(async () => {
  await tw?.cleanup();
});

describe('guestkit.fix', () => {
  it('advertises itself and refuses bad payloads at submission', async () => {
    expect((await tw.worker.capabilities()).capabilities.operations).toContain('guestkit.fix');
    const bad = [
      [{ image: { path: 'x' }, operations: [] }, /operations/],
      [{ image: { path: 'x' }, operations: [{ type: 'defrag' }] }, /unknown fix operation 'defrag'/],
      [{ image: { path: 'x' }, operations: [{ type: 'set_hostname' }] }, /hostname/],
      [
        { image: { path: 'x' }, operations: [{ type: 'set_hostname', options: { hostname: 'a_b' } }] },
        /hostname/,
      ],
      [{ image: { path: 'x', read_only: true }, operations: [{ type: 'fsck' }] }, /read-only.*fixed_image/],
    ] as const;
    for (const [data, message] of bad) {
      await expect(tw.worker.submit(job('guestkit.fix', data))).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
        message: expect.stringMatching(message),
      });
    }
  });

  it('fsck + set_hostname + reset_machine_id into output.fixed_image; the original is only read', async () => {
    const image = await copyOf(debian);
    const before = await sha256File(image);
    const fixed = join(tw.dir, 'debian-fixed.img');
    const logPath = join(tw.dir, 'debian-fix-report.json');
    const r = await runFix({
      image: { path: image, format: 'raw', read_only: true, checksum: `sha256:${before}` },
      operations: [
        { type: 'fsck', options: { auto_repair: true } },
        { type: 'set_hostname', options: { hostname: 'fixed-web02' } },
        { type: 'reset_machine_id' },
      ],
      output: { fixed_image: fixed, log_path: logPath, report_format: 'json' },
    });
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect(r.outputs.primary).toBe(fixed);
    const report = r.data as FixReport;
    expect(report.operations.map((o) => [o.type, o.status])).toEqual([
      ['fsck', 'success'],
      ['set_hostname', 'success'],
      ['reset_machine_id', 'success'],
    ]);
    expect(report.os).toMatchObject({ distro: 'debian', hostname: debian.facts.oses[0].hostname });
    // The re-inspection before commit saw the new name.
    expect(report.validation).toMatchObject({
      performed: true,
      passed: true,
      after: { hostname: 'fixed-web02' },
    });
    expect(report.commit).toMatchObject({ mode: 'fixed_image', target: fixed, format: 'raw' });
    expect(JSON.parse(await readFile(logPath, 'utf8'))).toMatchObject({ status: 'success' });
    expect((await guestFile(fixed, 'raw', 0, '/etc/hostname')).trim()).toBe('fixed-web02');
    expect(await guestFile(fixed, 'raw', 0, '/etc/machine-id')).toBe('');
    expect(await sha256File(image)).toBe(before);
    expect((await guestFile(image, 'raw', 0, '/etc/hostname')).trim()).toBe(debian.facts.oses[0].hostname);
    expect(await leftovers()).toEqual({ workDirs: [], qemu: '' });
  });

  it('a failing operation in the middle commits nothing: sha256 unchanged, statuses and logs reported', async () => {
    const image = await copyOf(rhel);
    const before = await sha256File(image);
    const r = await runFix({
      image: { path: image, format: 'qcow2', create_backup: true },
      operations: [
        { type: 'set_hostname', options: { hostname: 'should-not-stick' } },
        { type: 'selinux_relabel' },
        { type: 'reset_machine_id' },
      ],
      execution_policy: { stop_on_error: true },
    });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('EXECUTION_ERROR');
    expect(r.error?.message).toMatch(/selinux_relabel failed: .*policy 'targeted' is not installed/);
    const report = r.error?.details?.report as FixReport;
    expect(report.operations.map((o) => o.status)).toEqual(['success', 'failed', 'skipped']);
    expect(report.operations[0].log.join('\n')).toMatch(/should-not-stick/);
    expect(report.commit.mode).toBe('none');
    expect(await sha256File(image)).toBe(before);
    expect((await readdir(tw.dir)).filter((f) => f.endsWith('.bak'))).toEqual([]);
    expect(await leftovers()).toEqual({ workDirs: [], qemu: '' });
  });

  it('validate_before_commit catches a guest the operations broke and does not commit', async () => {
    const image = await copyOf(debian);
    const before = await sha256File(image);
    const r = await runFix({
      image: { path: image, create_backup: true },
      operations: [{ type: 'test_break_os_release' }],
      execution_policy: { validate_before_commit: true },
    });
    expect(r.status).toBe('failed');
    expect(r.error?.message).toMatch(/Validation before commit failed: .*distro changed from 'debian'/);
    const report = r.error?.details?.report as FixReport;
    expect(report.operations[0].status).toBe('success');
    expect(report.validation).toMatchObject({ performed: true, passed: false });
    expect(await sha256File(image)).toBe(before);
    expect((await readdir(tw.dir)).filter((f) => f.endsWith('.bak'))).toEqual([]);
    expect(await leftovers()).toEqual({ workDirs: [], qemu: '' });
  });

  it('commits in place after a backup; RHEL-family hostname lands in /etc/sysconfig/network too', async () => {
    const image = await copyOf(rhel);
    const before = await sha256File(image);
    const backup = join(tw.dir, 'rhel-backup.qcow2');
    const logPath = join(tw.dir, 'rhel-report.yaml');
    const r = await runFix({
      image: { path: image, format: 'qcow2', create_backup: true, backup_path: backup },
      operations: [
        { type: 'set_hostname', options: { hostname: 'rocky-db02.example.com' } },
        { type: 'reset_machine_id' },
      ],
      output: { log_path: logPath, report_format: 'yaml' },
    });
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    const report = r.data as FixReport;
    expect(report.commit).toMatchObject({ mode: 'in_place', target: image, backup: { path: backup } });
    expect(r.outputs.artifacts).toEqual([logPath, backup]);
    expect(await readFile(logPath, 'utf8')).toMatch(/^version: "?1\.0"?$/m);
    expect(await sha256File(backup)).toBe(before);
    expect(await sha256File(image)).not.toBe(before);
    // rhel-like: /boot is partition 1, / is partition 2.
    expect((await guestFile(image, 'qcow2', 1, '/etc/hostname')).trim()).toBe('rocky-db02.example.com');
    expect(await guestFile(image, 'qcow2', 1, '/etc/sysconfig/network')).toMatch(
      /^HOSTNAME=rocky-db02\.example\.com$/m,
    );
    expect(await guestFile(image, 'qcow2', 1, '/etc/machine-id')).toBe('');
    // The committed image is standalone again (no leftover backing reference to the overlay).
    const { stdout } = await execFileP('qemu-img', ['info', '--output=json', image]);
    expect(JSON.parse(stdout)['backing-filename']).toBeUndefined();
    expect(await leftovers()).toEqual({ workDirs: [], qemu: '' });
  });

  it('a timeout kills the appliance, removes the overlay and leaves the image alone', async () => {
    const image = await copyOf(debian);
    const before = await sha256File(image);
    const dirsBefore = new Set(await libguestfsDirs());
    const r = await runFix({ image: { path: image }, operations: [{ type: 'reset_machine_id' }] }, 3);
    expect(r.status).toBe('timeout');
    await until(async () => {
      const l = await leftovers();
      return l.workDirs.length === 0 && l.qemu === '';
    }, 15_000);
    expect(await sha256File(image)).toBe(before);
    // Dirs that appeared during the job are gone, or belong to an appliance another test file runs.
    let left: string[] = [];
    const settled = await until(async () => {
      left = [];
      for (const d of await libguestfsDirs()) if (!dirsBefore.has(d) && !(await inUse(d))) left.push(d);
      return left.length === 0;
    }, 15_000).then(
      () => true,
      () => false,
    );
    expect(settled ? [] : left).toEqual([]);
  });
});
