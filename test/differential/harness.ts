// Differential runs: many generated guests on one GPT disk (one partition each), one appliance
// launch, the fast inspection and inspect_os (+ inspect_list_applications2) asked of the same
// appliance, compared field by field per root. A guest that differs is shrunk: every one-step
// simplification of it goes on one disk (one launch per round) until none still differs.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Guestfs } from '../../lib/guestfs.js';
import { inspectAppliance, installedApplications, osFacts } from '../../lib/inspection/index.js';
import { identifyLinux } from '../../lib/inspection/release.js';
import { parseFstab } from '../../lib/inspection/fstab.js';
import { buildRawDisk, run, type Partition } from '../fixtures/disk.js';
import { writeRpmDb } from '../fixtures/rpmdb.js';
import { guestLabel, guestPackages, guestSpec, guestUuid, renderGuest, type GuestSpec } from './generator.js';

const PART_MIB = 12;

/** JSON with sorted keys: the two paths build their objects in different key orders. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : typeof x === 'bigint'
        ? String(x)
        : x,
  );
}

export interface Difference {
  spec: GuestSpec;
  field: string;
  fast: unknown;
  libguestfs: unknown;
}

export interface BatchResult {
  compared: number;
  /** Guests the fast path leaves to inspect_os (checked on the host, not put on the disk). */
  declined: GuestSpec[];
  differences: Difference[];
}

/** A cached rpm database per package list (rpmbuild costs seconds; lists repeat). */
async function rpmDbFor(spec: GuestSpec, cache: string): Promise<string> {
  const dir = join(cache, `rpmdb-${spec.packages}-${spec.major}`);
  try {
    await run('test', ['-f', join(dir, 'var/lib/rpm/rpmdb.sqlite')]);
    return dir;
  } catch {
    await mkdir(dir, { recursive: true });
    await writeRpmDb(dir, guestPackages(spec), await mkdtemp(join(tmpdir(), 'gk-rpmwork-')));
    return dir;
  }
}

/** The files of a rendered guest, as the fast path's pure rules read them. */
function hostFiles(spec: GuestSpec, index: number, salt: string): Map<string, string> {
  const tree = renderGuest(spec, index, salt);
  const out = new Map<string, string>();
  for (const e of tree.entries)
    if (e.kind === 'file' && typeof e.content === 'string') out.set(e.path, e.content);
  return out;
}

/** True when the fast path's own rules answer for this guest (else it is left to inspect_os). */
export function fastAnswers(spec: GuestSpec): boolean {
  const files = hostFiles(spec, 1, 'probe');
  return identifyLinux(files) !== undefined && parseFstab(files.get('/etc/fstab') ?? '') !== undefined;
}

const byName = <T extends { app2_name: string }>(a: T[]) =>
  [...a].sort((x, y) => x.app2_name.localeCompare(y.app2_name));

/** Puts `specs` on one disk, inspects it both ways in one launch, returns the differences. */
export async function runBatch(specs: GuestSpec[], salt: string, cache: string): Promise<BatchResult> {
  const declined = specs.filter((s) => !fastAnswers(s));
  const guests = specs.filter((s) => fastAnswers(s));
  const result: BatchResult = { compared: guests.length, declined, differences: [] };
  if (guests.length === 0) return result;
  await mkdir(cache, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'gk-diff-'));
  const g = new Guestfs();
  try {
    const partitions: Partition[] = [];
    for (const [i, spec] of guests.entries()) {
      const index = i + 1;
      const tree = renderGuest(spec, index, salt);
      if (spec.family !== 'debian' && spec.family !== 'ubuntu') {
        const db = await rpmDbFor(spec, cache);
        tree.after((root) =>
          run('cp', ['-a', join(db, 'var/lib/rpm'), join(root, 'var/lib/')]).then(() => undefined),
        );
      }
      partitions.push({
        sizeMiB: PART_MIB,
        partUuid: guestUuid(salt, index, 'part'),
        fs: { kind: 'ext4', uuid: guestUuid(salt, index, 'root'), label: guestLabel(index), tree },
      });
    }
    const disk = join(work, 'disk.img');
    await buildRawDisk(
      disk,
      {
        sizeMiB: 2 + guests.length * PART_MIB,
        table: 'gpt',
        labelId: guestUuid(salt, 0, 'disk'),
        partitions,
      },
      work,
    );
    await g.addDrive(disk, { readonly: true, format: 'raw' });
    await g.launch();
    const fast = await inspectAppliance(g);
    const roots = await g.inspectOs();
    const diff = (spec: GuestSpec, field: string, a: unknown, b: unknown) => {
      if (canonical(a) !== canonical(b)) result.differences.push({ spec, field, fast: a, libguestfs: b });
    };
    for (const [i, spec] of guests.entries()) {
      const root = `/dev/sda${i + 1}`;
      const mine = fast?.roots.find((r) => r.root === root);
      const isRoot = roots.includes(root);
      diff(spec, 'root', mine !== undefined, isRoot);
      if (!mine || !isRoot) continue;
      diff(spec, 'facts', mine.facts, await osFacts(g, root));
      diff(spec, 'mountpoints', mine.mountpoints, await g.inspectGetMountpoints(root));
      diff(spec, 'filesystems', [...mine.filesystems].sort(), (await g.inspectGetFilesystems(root)).sort());
      await g.mountRo(root, '/');
      try {
        const ours = await installedApplications(g, root, mine.facts);
        const theirs = await g.inspectListApplications2(root);
        diff(spec, 'packages', byName(ours), byName(theirs));
      } finally {
        await g.umountAll();
      }
    }
    return result;
  } finally {
    g.kill();
    await g.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/** Every one-step simplification of a guest (fields dropped or set to their plainest value). */
export function simplifications(s: GuestSpec): GuestSpec[] {
  const out: GuestSpec[] = [];
  const add = (c: GuestSpec) => {
    if (JSON.stringify(c) !== JSON.stringify(s)) out.push(c);
  };
  add({ ...s, osRelease: null });
  if (s.osRelease) {
    for (const k of ['comments', 'extraKeys'] as const)
      add({ ...s, osRelease: { ...s.osRelease, [k]: false } });
    add({ ...s, osRelease: { ...s.osRelease, idQuote: 'none' } });
    add({ ...s, osRelease: { ...s.osRelease, pretty: true } });
    add({ ...s, osRelease: { ...s.osRelease, version: 'full' } });
  }
  add({ ...s, lsb: false });
  add({ ...s, releaseFile: false });
  add({ ...s, hostname: { ...s.hostname, etcHostname: null } });
  add({ ...s, hostname: { ...s.hostname, etcHOSTNAME: null } });
  add({ ...s, hostname: { ...s.hostname, sysconfig: 'none' } });
  if (s.hostname.etcHostname?.length) add({ ...s, hostname: { ...s.hostname, etcHostname: [] } });
  for (const e of s.fstab.extras)
    add({ ...s, fstab: { ...s.fstab, extras: s.fstab.extras.filter((x) => x !== e) } });
  add({ ...s, fstab: { ...s.fstab, rootBy: 'uuid' } });
  add({ ...s, fstab: { ...s.fstab, comments: false, tabs: false } });
  add({ ...s, packages: 1, dnf: false });
  return out;
}

/** Shrinks a differing guest: rounds of one launch each, until no simplification still differs. */
export async function shrink(
  d: Difference,
  salt: string,
  cache: string,
  maxRounds = 6,
): Promise<{ minimal: Difference; rounds: number }> {
  let current = d;
  for (let round = 0; round < maxRounds; round++) {
    const candidates = simplifications(current.spec).filter(fastAnswers);
    if (candidates.length === 0) return { minimal: current, rounds: round };
    const r = await runBatch(candidates, `${salt}-shrink${round}`, cache);
    const next = r.differences[0];
    if (!next) return { minimal: current, rounds: round };
    current = next;
  }
  return { minimal: current, rounds: maxRounds };
}

/** `count` guests from the seed, in batches of `perLaunch` (one appliance each). */
export function sampleGuests(seed: number, count: number): GuestSpec[] {
  return fc.sample(guestSpec, { seed, numRuns: count });
}
