// guestkit.doctor, guestkit.migrate-plan and guestkit.repair on real appliances: every check
// triggered by a fixture guest built to trip it (vmware-rocky, broken-boot) and quiet on one that
// is ready (kvm-ready); the repair round trip (score below 80 → at least 90, source unchanged).
// All jobs are submitted at once: jobs on one image share one reading (one drive), and the pool
// batches the rest. Launches: pool ≤ 4 (vmware-rocky's fstab names /dev/sda, so it cannot share;
// broken-boot's ESP sends its appliance to inspect_os; the repaired copy is diagnosed after),
// plus the repair's own overlay appliance.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { closeSharedAppliancePool, getSharedAppliancePool } from '../../lib/appliance/index.js';
import {
  doctorHandler,
  migratePlanHandler,
  type CheckResult,
  type DoctorResult,
} from '../../src/handlers/doctor/index.js';
import type { MigratePlanResultData } from '../../src/handlers/doctor/index.js';
import { repairHandler, type RepairResultData } from '../../src/handlers/doctor/repair.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import type { ResultDocument } from '../../src/protocol/schema.js';
import { getFixtures, type Fixture } from '../fixtures/index.js';
import { job as makeJob, startTestWorker, type TestWorker } from '../unit/worker-helpers.js';
import { qemuChildren } from './qemu-children.js';

const MAX_POOL_LAUNCHES = 4;

let tw: TestWorker;
const fx: Record<string, Fixture> = {};
const results = new Map<string, ResultDocument>();
let sourceHashBefore = '';
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const job = (operation: string, data: unknown) => makeJob(operation, data, (b) => b.timeout(1200));
const fixedImage = () => join(tw.dir, 'vmware-rocky-kubevirt.qcow2');
const planFile = () => join(tw.dir, 'plan.yaml');

const JOBS: Record<string, () => ReturnType<typeof job>> = {
  vmware: () =>
    job('guestkit.doctor', {
      image: { path: fx['vmware-rocky'].path, format: 'qcow2' },
      target: 'kubevirt',
      explain: true,
    }),
  ready: () =>
    job('guestkit.doctor', { image: { path: fx['kvm-ready'].path, format: 'raw' }, target: 'kubevirt' }),
  broken: () =>
    job('guestkit.doctor', {
      image: { path: fx['broken-boot'].path, format: 'raw' },
      target: 'kubevirt',
      explain: true,
    }),
  readyAws: () =>
    job('guestkit.doctor', { image: { path: fx['kvm-ready'].path, format: 'raw' }, target: 'aws' }),
  plan: () =>
    job('guestkit.migrate-plan', {
      image: { path: fx['vmware-rocky'].path, format: 'qcow2' },
      target: 'kubevirt',
      export_fix_plan: true,
      output: { destination: planFile() },
    }),
  dryRun: () =>
    job('guestkit.repair', { image: { path: fx['vmware-rocky'].path, format: 'qcow2' }, fix: 'boot' }),
  repair: () =>
    job('guestkit.repair', {
      image: { path: fx['vmware-rocky'].path, format: 'qcow2', read_only: true },
      fix: 'boot',
      dry_run: false,
      target: 'kubevirt',
      output: { fixed_image: fixedImage() },
    }),
};

beforeAll(async () => {
  for (const f of await getFixtures(['vmware-rocky', 'kvm-ready', 'broken-boot'])) fx[f.name] = f;
  sourceHashBefore = sha(fx['vmware-rocky'].path);
  tw = await startTestWorker(
    // Reserved appliances wait for their jobs however loaded the machine is (the 2 s default gives
    // up on a slow claim and launches again under CI load): the launch count stays known.
    { maxConcurrent: 8, appliance: { reservationLingerMs: 120_000 } },
    new HandlerRegistry().register(doctorHandler).register(migratePlanHandler).register(repairHandler),
  );
  const ids = new Map<string, string>();
  for (const [name, make] of Object.entries(JOBS)) {
    const env = make();
    await tw.worker.submit(env);
    ids.set(name, env.job_id);
  }
  for (const [name, id] of ids) {
    await tw.worker.waitFor(id);
    results.set(name, (await tw.worker.result(id)) as ResultDocument);
  }
  // The repaired copy, measured independently through the pool.
  const after = job('guestkit.doctor', {
    image: { path: fixedImage(), format: 'qcow2' },
    target: 'kubevirt',
  });
  await tw.worker.submit(after);
  await tw.worker.waitFor(after.job_id);
  results.set('afterRepair', (await tw.worker.result(after.job_id)) as ResultDocument);
  for (const [name, r] of results)
    console.info(`${name}: ${r.status} in ${r.execution_summary.duration_seconds.toFixed(1)} s`);
}, 1_800_000);

afterAll(async () => {
  const launches = getSharedAppliancePool().status().launches;
  console.info(`doctor: ${results.size} jobs, ${launches} pool appliance launch(es)`);
  await tw?.cleanup();
  await closeSharedAppliancePool();
  expect(qemuChildren()).toEqual([]);
  expect(launches).toBeGreaterThan(0);
  expect(launches).toBeLessThanOrEqual(MAX_POOL_LAUNCHES);
});

const data = <T>(name: string): T => {
  const r = results.get(name)!;
  expect(r.status, JSON.stringify(r.error)).toBe('completed');
  return r.data as T;
};
const doctor = (name: string) => data<DoctorResult>(name);
const check = (d: DoctorResult, id: string): CheckResult => {
  const c = d.checks.find((x) => x.id === id);
  expect(c, id).toBeDefined();
  return c!;
};
const trips = (name: string, id: string, severity: CheckResult['severity']) => {
  const c = check(doctor(name), id);
  expect(c.passed, `${name} ${id}: ${c.message}`).toBe(false);
  expect(c.severity).toBe(severity);
  expect(c.remediation).toBeTruthy();
  expect(c.evidence.read.length).toBeGreaterThan(0);
  return c;
};
const quiet = (name: string, id: string) => {
  const c = check(doctor(name), id);
  expect(c.passed, `${name} ${id}: ${c.message}`).toBe(true);
  return c;
};

describe('guestkit.doctor: each check trips on a guest built for it and stays quiet on kvm-ready', () => {
  it('scores: vmware-rocky below 80 and will not boot, kvm-ready 100 and ready, broken-boot blocked', () => {
    const vm = doctor('vmware');
    expect(vm.score).toBeLessThan(50); // blockers hold it below 50
    expect(vm.verdict).toBe('will-not-boot');
    expect(vm.blockers.map((b) => b.check_id).sort()).toEqual(['BOOT-001', 'BOOT-004', 'BOOT-006']);
    expect(doctor('ready')).toMatchObject({ score: 100, verdict: 'ready', blockers: [], warnings: [] });
    expect(doctor('broken').verdict).toBe('will-not-boot');
    for (const c of doctor('ready').checks) expect(c.passed, `${c.id}: ${c.message}`).toBe(true);
    // The original worker's shape too.
    expect((results.get('vmware')!.data as { bootability: { score: number } }).bootability.score).toBe(
      vm.score,
    );
  });

  it('BOOT-001 fstab: bus names (vmware-rocky), dangling UUID and /dev/sdb1 (broken-boot)', () => {
    expect(trips('vmware', 'BOOT-001', 'blocker').fix).toEqual([{ type: 'fstab_stable_names' }]);
    const broken = trips('broken', 'BOOT-001', 'blocker');
    expect(broken.message).toMatch(/UUID=5b0c2d4e.*\/srv|\/dev\/sdb1/);
    expect(JSON.stringify(broken.evidence.entries)).toContain('/dev/sdb1 does not exist on this disk');
    quiet('ready', 'BOOT-001');
  });

  it('BOOT-002 crypttab, BOOT-003 kernel without initramfs (broken-boot)', () => {
    expect(trips('broken', 'BOOT-002', 'blocker').message).toMatch(/luks-data/);
    expect(trips('broken', 'BOOT-003', 'blocker').message).toMatch(
      /5\.14\.0-427\.13\.1\.el9_4\.x86_64 has no initramfs/,
    );
    quiet('ready', 'BOOT-002');
    quiet('ready', 'BOOT-003');
  });

  it('BOOT-004 root=: by bus name (vmware-rocky), a filesystem that is not there (broken-boot)', () => {
    expect(trips('vmware', 'BOOT-004', 'blocker').message).toMatch(/root=\/dev\/sda2/);
    expect(trips('broken', 'BOOT-004', 'blocker').evidence.read).toContain('/boot/grub2/grub.cfg');
    quiet('ready', 'BOOT-004');
  });

  it('BOOT-005 EFI-only guest (broken-boot) vs BIOS boot code (kvm-ready)', () => {
    const c = trips('broken', 'BOOT-005', 'warning');
    expect(c.message).toMatch(/EFI-only.*grubx64\.efi/);
    expect(c.remediation).toMatch(/firmware\.bootloader\.efi/);
    expect(quiet('ready', 'BOOT-005').evidence.bios).toMatchObject({ mbr: 'grub' });
  });

  it('BOOT-006 drivers in the initramfs that boots, read through its early cpio and compression', () => {
    const c = trips('vmware', 'BOOT-006', 'blocker');
    expect(c.message).toMatch(/in \/lib\/modules, not in the initramfs/);
    expect(c.evidence.read[0]).toMatch(/^\/boot\/initramfs-5\.14\.0-362/);
    expect(
      (c.evidence.initramfs as { segments: { compression: string }[] }).segments.map((s) => s.compression),
    ).toEqual(['none', 'gzip']);
    expect(c.fix).toEqual([
      { type: 'initramfs_add_drivers', options: { drivers: ['virtio_blk', 'virtio_scsi', 'virtio_net'] } },
    ]);
    const ok = quiet('ready', 'BOOT-006');
    expect(
      (ok.evidence.initramfs as { segments: { compression: string }[] }).segments.map((s) => s.compression),
    ).toEqual(['none', 'zstd']);
    // The same guest lacks what another target needs.
    expect(trips('readyAws', 'BOOT-006', 'blocker').message).toMatch(/nvme, xen_blkfront/);
  });

  it('BOOT-007 NIC bindings: ifcfg HWADDR + slot name, 70-persistent-net and netplan MAC match', () => {
    expect(trips('vmware', 'BOOT-007', 'warning').message).toMatch(/HWADDR=00:50:56:8a:11:22.*ens192/);
    const broken = trips('broken', 'BOOT-007', 'warning').evidence.bindings as { kind: string }[];
    expect(broken.map((b) => b.kind).sort()).toEqual(['netplan-macaddress', 'persistent-net-rules']);
    quiet('ready', 'BOOT-007');
  });

  it('BOOT-008 cloud-init: VMware-only datasource on kubevirt, no Ec2 on aws', () => {
    expect(trips('broken', 'BOOT-008', 'warning').message).toMatch(/only knows VMware/);
    expect(trips('readyAws', 'BOOT-008', 'warning').message).toMatch(/lacks Ec2/);
    quiet('ready', 'BOOT-008');
  });

  it('BOOT-009 SELinux enforcing with offline changes planned; quiet when nothing changes or disabled', () => {
    expect(trips('vmware', 'BOOT-009', 'warning').fix).toEqual([{ type: 'selinux_autorelabel' }]);
    expect(quiet('ready', 'BOOT-009').message).toMatch(/enforcing; no offline change/);
    quiet('broken', 'BOOT-009');
  });

  it('BOOT-010 VMware tools enabled, BOOT-016 no qemu-guest-agent, BOOT-015 no serial console', () => {
    expect(trips('vmware', 'BOOT-010', 'warning').fix).toEqual([
      { type: 'service_disable', options: { units: ['vmtoolsd.service'] } },
    ]);
    expect(trips('vmware', 'BOOT-016', 'info').fix).toEqual([]);
    expect(trips('vmware', 'BOOT-015', 'warning').fix[0]).toMatchObject({ type: 'bootloader_cmdline' });
    quiet('ready', 'BOOT-010');
    quiet('ready', 'BOOT-016');
    quiet('ready', 'BOOT-015');
  });

  it('explain: the first blocker in boot order is the root cause', () => {
    expect(doctor('vmware').root_cause?.primary).toMatch(/^BOOT-004/);
    expect(doctor('broken').root_cause?.chain.length).toBeGreaterThan(5);
    expect(doctor('ready').root_cause).toBeUndefined();
  });
});

describe('guestkit.migrate-plan and guestkit.repair', () => {
  it('migrate-plan: categories, ordered steps of fix operations, the plan exported as YAML', () => {
    const plan = data<MigratePlanResultData>('plan');
    expect(plan.score).toBe(doctor('vmware').score);
    expect(Object.keys(plan.categories).sort()).toEqual(['boot', 'driver', 'network', 'security', 'storage']);
    expect(plan.categories.driver.failed).toBeGreaterThan(0);
    expect(plan.steps.filter((s) => s.operation).map((s) => s.operation!.type)).toEqual([
      'fstab_stable_names',
      'bootloader_cmdline',
      'initramfs_add_drivers',
      'network_portable',
      'service_disable',
      'selinux_autorelabel',
    ]);
    expect(plan.steps.find((s) => s.operation?.type === 'bootloader_cmdline')!.operation!.options).toEqual({
      root: 'uuid',
      add: ['console=tty0', 'console=ttyS0,115200n8'],
    });
    expect(plan.steps.some((s) => s.operation === null && s.fixes.includes('BOOT-016'))).toBe(true);
    expect(plan.predicted_score).toBeGreaterThanOrEqual(90);
    expect(plan.export_path).toBe(planFile());
    const exported = parseYaml(readFileSync(planFile(), 'utf8')) as {
      steps: unknown[];
      fix_job: { operation: string };
    };
    expect(exported.steps).toHaveLength(plan.steps.length);
    expect(exported.fix_job.operation).toBe('guestkit.fix');
  });

  it('repair dry run (the default): the plan and the predicted score, nothing applied', () => {
    const r = data<RepairResultData>('dryRun');
    expect(r).toMatchObject({ dry_run: true, applied: false, before_score: doctor('vmware').score });
    expect(r.predicted_score).toBeGreaterThanOrEqual(90);
  });

  it('repair: below 80 → at least 90 on kubevirt, written to output.fixed_image, the source byte-for-byte unchanged', () => {
    const r = data<RepairResultData>('repair');
    expect(r.before_score).toBeLessThan(80);
    expect(r.after_score).toBeGreaterThanOrEqual(90);
    expect(r.applied).toBe(true);
    expect(r.report!.operations.every((o) => o.status === 'success')).toBe(true);
    expect(r.report!.commit).toMatchObject({ mode: 'fixed_image', target: fixedImage() });
    expect(existsSync(fixedImage())).toBe(true);
    expect(sha(fx['vmware-rocky'].path)).toBe(sourceHashBefore);
    // Measured again by a fresh doctor job on the repaired copy.
    const after = doctor('afterRepair');
    expect(after.score).toBeGreaterThanOrEqual(90);
    expect(after.blockers).toEqual([]);
    expect(check(after, 'BOOT-006').passed).toBe(true);
    expect(check(after, 'BOOT-001').passed).toBe(true);
  });
});
