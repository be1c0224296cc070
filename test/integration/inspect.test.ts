// guestkit.inspect end to end: a real worker (SQLite store in a temp dir) runs every job on the
// real appliance pool; virt-inspector is the oracle (cached per fixture build, see inspect-oracle.ts)
// and the fixtures' planted facts are the truth for the sections virt-inspector does not cover.
//
// APPLIANCE LAUNCHES (ours): phase 1 submits 13 jobs at once; 11 drives reach the pool and fill
// 2 appliances (8 drives max each); clones of one image (debian-like/-vmdk, ubuntu-like/-vdi) share
// them, since the fast inspection looks UUIDs up on each drive's own disk. Phase 2: 2 isolated jobs
// whose launches are cut short (cancel, timeout). So 4 launches, plus virt-inspector's 8 on a cold cache.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureSharedAppliancePool } from '../../lib/appliance/index.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import {
  inspectHandler,
  type InspectionReport,
  type InspectResultData,
} from '../../src/handlers/inspect/index.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { getFixtures, type Fixture, type FixtureName, type OsFacts } from '../fixtures/index.js';
import { job, sleep, startTestWorker, until, type TestWorker } from '../unit/worker-helpers.js';
import { oracle, type OracleOs } from './inspect-oracle.js';

const execFileP = promisify(execFile);
const OS_FIXTURES: FixtureName[] = [
  'debian-like',
  'ubuntu-like',
  'rhel-like',
  'multi-os',
  'debian-like-updated',
  'debian-like-vmdk',
  'ubuntu-like-vdi',
  'rhel-lvm',
];

let tw: TestWorker;
let applianceTmp: string;
const fx = new Map<string, Fixture>();
const oracles = new Map<string, OracleOs[]>();
const results = new Map<string, ResultDocument>();
const ids = new Map<string, string>();
const checksumEvents: string[] = [];

/** qemu processes of this file's appliances (their overlays live under applianceTmp). */
async function ourQemu(): Promise<number> {
  const { stdout } = await execFileP('pgrep', ['-f', `qemu-system.*${applianceTmp}`]).catch(() => ({
    stdout: '',
  }));
  return stdout.trim().split('\n').filter(Boolean).length;
}

async function sha256(path: string): Promise<string> {
  const { stdout } = await execFileP('sha256sum', [path]);
  return stdout.split(' ')[0];
}

function data(name: string): InspectResultData {
  const r = results.get(name)!;
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
  return r.data as InspectResultData;
}

const report = (name: string): InspectionReport => data(name).report;

beforeAll(async () => {
  applianceTmp = await mkdtemp(join(tmpdir(), 'gk-inspect-appl-'));
  configureSharedAppliancePool({ guestfs: { tmpdir: applianceTmp }, maxDrivesPerAppliance: 8 });
  for (const f of await getFixtures([...OS_FIXTURES, 'garbage', 'empty', 'corrupt'])) fx.set(f.name, f);
  // The oracle first (cached after the first run), two at a time: two cores.
  const queue = [...OS_FIXTURES];
  await Promise.all(
    [0, 1].map(async () => {
      for (let n = queue.shift(); n; n = queue.shift()) oracles.set(n, await oracle(fx.get(n)!.path));
    }),
  );

  tw = await startTestWorker({ maxConcurrent: 16 }, new HandlerRegistry().register(inspectHandler));
  tw.worker.on('checksum', (e) => checksumEvents.push(`${e.job_id}:${e.status}`));
  const garbage = fx.get('garbage')!.path;
  const specs: [string, unknown, number][] = [
    ...OS_FIXTURES.map((n): [string, unknown, number] => [n, { image: { path: fx.get(n)!.path } }, 900]),
    ['garbage', { image: { path: garbage, format: 'raw' } }, 900],
    ['garbage-bad-checksum', { image: { path: garbage, checksum: `sha256:${'0'.repeat(64)}` } }, 900],
    ['garbage-timeout', { image: { path: garbage } }, 3],
    ['empty', { image: { path: fx.get('empty')!.path } }, 900],
    ['corrupt', { image: { path: fx.get('corrupt')!.path } }, 900],
    ['outside', { image: { path: '/etc/hostname' } }, 900],
  ];
  // debian-like: with its right checksum and a YAML output file.
  specs[0][1] = {
    image: {
      path: fx.get('debian-like')!.path,
      format: 'raw',
      checksum: await sha256(fx.get('debian-like')!.path),
    },
    output: { format: 'yaml', destination: join(tw.dir, 'debian.yaml') },
  };
  const envelopes = specs.map(([name, payload, timeout]) => {
    const e = job('guestkit.inspect', payload, (b) => b.timeout(timeout));
    ids.set(name, e.job_id);
    return e;
  });
  for (const e of envelopes) await tw.worker.submit(e);
  await Promise.all(
    specs.map(async ([name]) => {
      await tw.worker.waitFor(ids.get(name)!);
      results.set(name, (await tw.worker.result(ids.get(name)!)) as ResultDocument);
    }),
  );
}, 1_800_000);

afterAll(async () => {
  await tw?.cleanup();
  if (applianceTmp) {
    expect(await ourQemu()).toBe(0); // no qemu survives the suite
    await rm(applianceTmp, { recursive: true, force: true });
  }
});

describe('inspect agrees with virt-inspector', () => {
  it.each(OS_FIXTURES)('%s: identity, mountpoints and every application', (name) => {
    const r = report(name);
    const roots = [r.operating_system, ...(r.operating_systems ?? []).slice(1)];
    const expected = oracles.get(name)!;
    expect(roots.map((o) => o.root).sort()).toEqual(expected.map((o) => o.fields.root).sort());
    const o = expected.find((x) => x.fields.root === r.operating_system.root)!;
    const os = r.operating_system;
    expect({
      distro: os.distribution,
      product_name: os.product_name,
      major_version: String(os.major_version),
      minor_version: String(os.minor_version),
      hostname: os.hostname,
      arch: os.arch,
      package_format: os.package_format,
      package_management: os.package_management,
      osinfo: os.osinfo,
    }).toEqual({
      distro: o.fields.distro,
      product_name: o.fields.product_name,
      major_version: o.fields.major_version,
      minor_version: o.fields.minor_version,
      hostname: o.fields.hostname,
      arch: o.fields.arch,
      package_format: o.fields.package_format,
      package_management: o.fields.package_management,
      osinfo: o.fields.osinfo,
    });
    expect(r.mountpoints).toEqual(o.mountpoints);
    const apps = (a: { name: string; version: string; release: string; epoch: number }[]) =>
      a.map((p) => `${p.name} ${p.epoch}:${p.version}-${p.release}`).sort();
    expect(apps(r.packages!.packages)).toEqual(apps(o.apps));
    expect(r.packages!.count).toBe(o.apps.length);
    for (const f of r.filesystems)
      expect(o.filesystems[f.device]).toMatchObject({ type: f.type, uuid: f.uuid });
  });
});

function plantedChecks(r: InspectionReport, os: OsFacts): void {
  // users
  const accounts = Object.fromEntries(r.users!.accounts.map((a) => [a.name, a]));
  expect(Object.keys(accounts).sort()).toEqual(os.users.map((u) => u.name).sort());
  for (const u of os.users) {
    expect(accounts[u.name]).toMatchObject({ uid: u.uid, gid: u.gid, home: u.home, shell: u.shell });
    expect(accounts[u.name].locked).toBe(u.password === 'locked');
    expect(accounts[u.name].empty_password).toBe(u.password === 'empty');
  }
  // services
  expect(r.services!.enabled.sort()).toEqual([...os.enabledServices].sort());
  expect(r.services!.units.map((u) => u.name)).toEqual(expect.arrayContaining(os.installedServices));
  // network
  const ifaces = r.network!.interfaces.map((i) => ({
    name: i.name,
    source: i.config_source,
    dhcp: i.dhcp,
    addresses: i.addresses,
  }));
  expect(ifaces).toEqual(
    os.network.interfaces.map((i) => ({
      name: i.name,
      source: i.configSource,
      dhcp: i.dhcp,
      addresses: i.addresses,
    })),
  );
  expect(r.network!.dns_servers).toEqual(os.network.dnsServers);
  expect(r.network!.gateway).toBe(os.network.interfaces.find((i) => i.gateway)?.gateway ?? null);
  expect(r.network!.hostname).toBe(os.hostname);
  // security
  const s = r.security!;
  expect(s.selinux.status).toBe(os.security.selinux ?? 'absent');
  expect(s.apparmor.enabled).toBe(os.security.apparmor);
  expect({
    ufw: s.firewall.ufw.enabled,
    firewalld: s.firewall.firewalld.enabled,
    nftables: s.firewall.nftables.enabled,
    iptables: s.firewall.iptables.enabled,
  }).toEqual(os.security.firewall);
  expect(s.ssh.permit_root_login).toBe(os.security.ssh.permitRootLogin);
  expect(s.ssh.password_authentication).toBe(os.security.ssh.passwordAuthentication ? 'yes' : 'no');
  // databases
  expect(r.databases!.map((d) => ({ engine: d.engine, version: d.version, data_dir: d.data_dir }))).toEqual(
    os.databases.map((d) => ({ engine: d.engine, version: d.version, data_dir: d.dataDir })),
  );
  // the rest
  expect(r.kernels.installed).toEqual(expect.arrayContaining(os.kernels));
  expect(r.kernels.default).toBe(os.kernels.at(-1));
  expect(r.machine_id).toBe(os.machineId);
  expect(r.cloud_init.installed).toBe(os.cloudInit);
  expect(r.vm_tools.installed).toEqual(os.vmTools ? [os.vmTools] : []);
  expect(r.storage!.fstab).toEqual(os.fstab);
  for (const f of os.filesystems) {
    expect(r.filesystems.find((x) => x.device === f.device)).toMatchObject({
      type: f.type,
      uuid: f.uuid,
      label: f.label,
    });
  }
  if (os.lvm) {
    expect(r.storage!.lvm).toEqual({ pvs: os.lvm.pvs, vgs: [os.lvm.vg], lvs: os.lvm.lvs });
  }
}

describe('planted facts land in the right sections', () => {
  it.each(OS_FIXTURES.filter((n) => n !== 'multi-os'))('%s', (name) => {
    plantedChecks(report(name), fx.get(name)!.os!);
  });

  it('multi-os: both roots reported, the first one collected', () => {
    const r = report('multi-os');
    const [deb, ubu] = fx.get('multi-os')!.facts.oses;
    expect(r.operating_systems!.map((o) => [o.root, o.hostname])).toEqual([
      [deb.root, deb.hostname],
      [ubu.root, ubu.hostname],
    ]);
    expect(data('multi-os').summary.roots).toBe(2);
    expect(r.machine_id).toBe(deb.machineId);
  });

  it('multi-os: every root complete under roots[] (mountpoints, filesystems, packages, services, users)', () => {
    const r = report('multi-os');
    const oses = fx.get('multi-os')!.facts.oses;
    expect(r.roots).toHaveLength(2);
    for (const [i, os] of oses.entries()) {
      const root = r.roots![i];
      expect(root.operating_system).toMatchObject({ root: os.root, hostname: os.hostname });
      expect(root.mountpoints).toEqual(os.mountpoints);
      expect(root.filesystems.map((f) => [f.device, f.uuid, f.label])).toEqual(
        os.filesystems.map((f) => [f.device, f.uuid, f.label]),
      );
      expect(root.packages!.packages.map((p) => p.name)).toEqual(os.packages.map((p) => p.name).sort());
      expect(root.machine_id).toBe(os.machineId);
      expect(root.services!.enabled.length).toBeGreaterThan(0);
      expect(root.users!.accounts.map((a) => a.name)).toContain('root');
    }
    // The single-root fields stay the first root's, for existing clients.
    expect(r.mountpoints).toEqual(r.roots![0].mountpoints);
    expect(r.packages).toEqual(r.roots![0].packages);
  });

  it('partitions of the image only, with sizes', () => {
    const r = report('rhel-like');
    expect(r.storage!.partitions.map((p) => [p.device, p.number, p.filesystem])).toEqual([
      ['/dev/sda1', 1, 'ext4'],
      ['/dev/sda2', 2, 'ext4'],
    ]);
    expect(r.storage!.partitions[1].size_bytes).toBe(64 * 1024 * 1024);
  });
});

describe('result, output file and checksum', () => {
  it('writes the YAML report atomically to output.destination and names it in the result', async () => {
    const d = data('debian-like');
    expect(d.status).toBe('success');
    expect(d.output_file).toBe(join(tw.dir, 'debian.yaml'));
    expect(results.get('debian-like')!.outputs?.primary).toBe(d.output_file);
    const fromFile = parseYaml(await readFile(d.output_file!, 'utf8')) as InspectionReport;
    expect(fromFile).toEqual(d.report);
    expect(d.report.image).toMatchObject({
      format: 'raw',
      checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(d.summary).toMatchObject({ distribution: 'debian', hostname: 'debian-web01', packages: 15 });
    expect(results.get('ubuntu-like')!.data).toMatchObject({ output_file: null });
  });

  it('a wrong checksum fails the job before any result, and the counters move', async () => {
    const r = results.get('garbage-bad-checksum')!;
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({
      code: 'IMAGE_CHECKSUM_MISMATCH',
      phase: 'checksum',
      message: `Image checksum verification failed for ${fx.get('garbage')!.path}`,
      recoverable: false,
      details: { expected: '0'.repeat(64), actual: await sha256(fx.get('garbage')!.path) },
    });
    expect(r.data).toBeUndefined();
    const phases = (await tw.worker.events(ids.get('garbage-bad-checksum')!)).map((e) => e.phase);
    expect(phases).not.toContain('result_generation');
    expect(checksumEvents).toContain(`${ids.get('debian-like')}:success`);
    expect(checksumEvents).toContain(`${ids.get('garbage-bad-checksum')}:failure`);
    expect(checksumEvents).toContain(`${ids.get('ubuntu-like')}:skipped`);
    expect(results.get('debian-like')!.metrics?.disk_read_bytes).toBeGreaterThanOrEqual(
      fx.get('debian-like')!.facts.virtualSizeBytes,
    );
  });

  it('reports progress through the standard phases', async () => {
    const phases = new Set((await tw.worker.events(ids.get('debian-like')!)).map((e) => e.phase));
    for (const p of [
      'validation',
      'checksum',
      'disk_attach',
      'disk_inspection',
      'os_detection',
      'package_scan',
      'service_scan',
      'security_scan',
      'result_generation',
      'cleanup',
    ])
      expect(phases).toContain(p);
  });
});

describe('bad images get clear codes; the good ones of the batch still answer', () => {
  it('garbage and empty disks: NO_OPERATING_SYSTEM', () => {
    expect(results.get('garbage')!.error).toMatchObject({
      code: 'NO_OPERATING_SYSTEM',
      phase: 'os_detection',
    });
    expect(results.get('empty')!.error).toMatchObject({ code: 'NO_OPERATING_SYSTEM' });
  });

  it('corrupt qcow2: APPLIANCE_ERROR with qemu’s own message', () => {
    expect(results.get('corrupt')!.error).toMatchObject({
      code: 'APPLIANCE_ERROR',
      message: expect.stringContaining('Image is corrupt'),
    });
  });

  it('an image outside the allowed roots: PATH_NOT_ALLOWED', () => {
    expect(results.get('outside')!.error).toMatchObject({ code: 'PATH_NOT_ALLOWED' });
  });

  it('a job timing out in a shared batch ends as timeout while its batch-mates complete', () => {
    expect(results.get('garbage-timeout')!.status).toBe('timeout');
    for (const n of OS_FIXTURES) expect(results.get(n)!.status).toBe('completed');
  });
});

describe('cancel and timeout stop the appliance', () => {
  it('kills the qemu of a cancelled and of a timed-out job within 5 s', async () => {
    const path = fx.get('debian-like')!.path;
    const cancelled = job(
      'guestkit.inspect',
      { image: { path }, options: { isolated_appliance: true } },
      (b) => b.timeout(900),
    );
    const timed = job('guestkit.inspect', { image: { path }, options: { isolated_appliance: true } }, (b) =>
      b.timeout(7),
    );
    await tw.worker.submit(cancelled);
    await tw.worker.submit(timed);
    await until(async () => (await ourQemu()) >= 1, 60_000);
    await tw.worker.cancel(cancelled.job_id);
    for (const [j, status] of [
      [cancelled, 'cancelled'],
      [timed, 'timeout'],
    ] as const) {
      await tw.worker.waitFor(j.job_id);
      expect(((await tw.worker.result(j.job_id)) as ResultDocument).status).toBe(status);
    }
    const ended = Date.now();
    await until(async () => (await ourQemu()) === 0, 5_000);
    expect(Date.now() - ended).toBeLessThan(5_000);
    await sleep(0);
  }, 180_000);
});
