// guestkit.compare pure parts: unified diff (checked by GNU patch and diff), package version
// ordering (checked against dpkg where dpkg and rpm agree), report diffing over the fixtures'
// planted facts, file-tree diffing, recommendations and payload validation. No appliance.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DEBIAN_FACTS } from '../fixtures/debian.js';
import { UBUNTU_FACTS } from '../fixtures/ubuntu.js';
import { DEBIAN_UPDATE_CHANGES, DEBIAN_UPDATED_FACTS } from '../fixtures/variants.js';
import {
  attachDiffs,
  diffTrees,
  isSensitive,
  readChanged,
  type TreeSnapshot,
} from '../../src/handlers/compare/config-diff.js';
import type { Guestfs } from '../../lib/guestfs.js';
import { diffReports, fieldChanges } from '../../src/handlers/compare/diff-report.js';
import { parseChecksums } from '../../src/handlers/compare/guest-files.js';
import { buildComparison } from '../../src/handlers/compare/index.js';
import { validateComparePayload } from '../../src/handlers/compare/payload.js';
import { recommend } from '../../src/handlers/compare/recommendations.js';
import { unifiedDiff } from '../../src/handlers/compare/unified-diff.js';
import { compareVersions } from '../../src/handlers/compare/version.js';
import { reportFromFacts } from './profile-expected.js';

const work = mkdtempSync(join(tmpdir(), 'guestkit-compare-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Applies `diff` to `before` with GNU patch and returns the result. */
function patched(before: string, diff: string): string {
  const file = join(work, 'f');
  writeFileSync(file, before);
  const r = spawnSync('patch', ['-s', '-f', '--no-backup-if-mismatch', file], {
    input: diff,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`patch failed: ${r.stdout}${r.stderr}\n${diff}`);
  return readFileSync(file, 'utf8');
}

describe('unifiedDiff', () => {
  it('is empty for equal texts and matches GNU diff -u for a single change', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', 'x', 'y')).toBe('');
    const before = 'l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\n';
    const after = 'l1\nl2\nl3\nl4 changed\nl5\nl6\nl7\nl8\n';
    writeFileSync(join(work, 'a'), before);
    writeFileSync(join(work, 'b'), after);
    const gnu = spawnSync('diff', ['-u', '--label', 'x', '--label', 'y', join(work, 'a'), join(work, 'b')], {
      encoding: 'utf8',
    }).stdout;
    expect(unifiedDiff(before, after, 'x', 'y')).toBe(gnu);
  });

  it('shows sshd_config’s PermitRootLogin change as GNU diff does', () => {
    const a = 'Include x\nPermitRootLogin no\nPasswordAuthentication no\n';
    const b = 'Include x\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n';
    expect(unifiedDiff(a, b, 'baseline/etc/ssh/sshd_config', 'target/etc/ssh/sshd_config')).toBe(
      '--- baseline/etc/ssh/sshd_config\n+++ target/etc/ssh/sshd_config\n@@ -1,3 +1,3 @@\n' +
        ' Include x\n-PermitRootLogin no\n+PermitRootLogin prohibit-password\n PasswordAuthentication no\n',
    );
  });

  it('marks a missing final newline like diff does, and patch reproduces it', () => {
    const d = unifiedDiff('a\nb', 'a\nb\n', 'x', 'y');
    expect(d).toContain('\\ No newline at end of file');
    expect(patched('a\nb', d)).toBe('a\nb\n');
    expect(patched('', unifiedDiff('', 'new\n', 'x', 'y'))).toBe('new\n');
  });

  it('GNU patch turns before into after for random texts (property)', () => {
    const line = fc.constantFrom('a', 'b', 'c', 'd', '', 'x y');
    const text = fc
      .tuple(fc.array(line, { maxLength: 30 }), fc.boolean())
      .map(([ls, eol]) => (ls.length === 0 ? '' : ls.join('\n') + (eol ? '\n' : '')));
    fc.assert(
      fc.property(text, text, (a, b) => {
        const d = unifiedDiff(a, b, 'x', 'y');
        if (a === b) return d === '';
        return patched(a, d) === b;
      }),
      { numRuns: 150 },
    );
  });

  it('keeps hunks apart when changes are far from each other', () => {
    const before = Array.from({ length: 30 }, (_, i) => `line${i}`).join('\n') + '\n';
    const after = before.replace('line2\n', 'LINE2\n').replace('line25\n', 'LINE25\n');
    const d = unifiedDiff(before, after, 'x', 'y');
    expect(d.match(/^@@/gm)).toHaveLength(2);
    expect(patched(before, d)).toBe(after);
  });
});

describe('package versions', () => {
  const v = (s: string) => {
    const [, epoch, rest] = /^(?:(\d+):)?(.*)$/.exec(s)!;
    const dash = rest.lastIndexOf('-');
    return {
      epoch: Number(epoch ?? 0),
      version: dash < 0 ? rest : rest.slice(0, dash),
      release: dash < 0 ? '' : rest.slice(dash + 1),
    };
  };
  const pairs: [string, string][] = [
    ['1.0', '1.1'],
    ['1.9', '1.10'],
    ['1.0~rc1', '1.0'],
    ['2.36-9+deb12u3', '2.36-9+deb12u4'],
    ['1:9.2p1-2+deb12u1', '1:9.2p1-2+deb12u3'],
    ['12.4+deb12u4', '12.5'],
    ['5:1.0', '6:0.1'],
    ['1.0-1', '1.0-2'],
    ['0.106.1-7ubuntu0.22.04.2', '0.106.1-7ubuntu0.22.04.10'],
  ];
  it.each(pairs)('%s < %s (and dpkg agrees)', (a, b) => {
    expect(compareVersions(v(a), v(b))).toBeLessThan(0);
    expect(compareVersions(v(b), v(a))).toBeGreaterThan(0);
    expect(compareVersions(v(a), v(a))).toBe(0);
    expect(() => execFileSync('dpkg', ['--compare-versions', a, 'lt', b])).not.toThrow();
  });
});

describe('report diffing over debian-like → debian-like-updated (the planted changes)', () => {
  const base = reportFromFacts(DEBIAN_FACTS);
  const target = reportFromFacts({ ...DEBIAN_UPDATED_FACTS, root: '/dev/sdb1' });
  const diff = diffReports(base, target);

  it('packages: nginx added, cron removed, the upgraded ones changed with from/to', () => {
    expect(diff.packages.added.map((p) => p.name)).toEqual(DEBIAN_UPDATE_CHANGES.added);
    expect(diff.packages.removed.map((p) => p.name)).toEqual(DEBIAN_UPDATE_CHANGES.removed);
    expect(diff.packages.changed.map((p) => p.name)).toEqual(DEBIAN_UPDATE_CHANGES.changed);
    expect(diff.packages.changed.find((p) => p.name === 'libc6')).toEqual({
      name: 'libc6',
      from: '2.36-9+deb12u3',
      to: '2.36-9+deb12u4',
      arch: 'amd64',
      direction: 'upgrade',
    });
    expect(diff.packages.changed.find((p) => p.name === 'openssh-server')).toMatchObject({
      from: '1:9.2p1-2+deb12u1',
      to: '1:9.2p1-2+deb12u3',
    });
    expect(diff.packages.added[0]).toEqual({ name: 'nginx', version: '1.22.1-9', arch: 'amd64' });
    expect(diff.packages.unchanged).toBe(DEBIAN_FACTS.packages.length - 1 - 3);
  });

  it('services, users, OS facts and sshd settings', () => {
    expect(diff.services.enabled).toEqual(DEBIAN_UPDATE_CHANGES.servicesEnabled);
    expect(diff.services.disabled).toEqual(DEBIAN_UPDATE_CHANGES.servicesDisabled);
    expect(diff.services.added).toEqual(['nginx.service']);
    expect(diff.services.removed).toEqual(['cron.service']);
    expect(diff.users.added.map((u) => u.name)).toEqual(DEBIAN_UPDATE_CHANGES.usersAdded);
    expect(diff.users.removed).toEqual([]);
    expect(diff.users.changed).toEqual([]);
    const os = Object.fromEntries(diff.operating_system.map((c) => [c.field, [c.from, c.to]]));
    expect(os).toMatchObject({
      product_name: ['12.4', '12.5'],
      minor_version: [4, 5],
      version: ['12.4', '12.5'],
      machine_id: [DEBIAN_FACTS.machineId, DEBIAN_UPDATED_FACTS.machineId],
    });
    expect(os.root).toBeUndefined(); // sda1 vs sdb1 is the appliance's naming, not a difference
    expect(diff.security).toEqual([{ field: 'ssh.permit_root_login', from: 'no', to: 'prohibit-password' }]);
    expect(diff.kernels).toEqual({ added: [], removed: [], default: null });
  });

  it('identical reports give no differences', () => {
    const same = buildComparison(
      {
        baseline: { report: base, etc: null, all: null },
        target: { report: base, etc: null, all: null },
        config: null,
        files: null,
        warnings: [],
      },
      {
        compare_packages: true,
        compare_files: false,
        compare_config: true,
        ignore_timestamps: true,
        recommendations: true,
      },
    );
    expect(same.summary.identical).toBe(true);
    expect(same.summary.total_differences).toBe(0);
    expect(same.recommendations).toEqual([]);
  });

  it('summary counts every section; compare_packages false leaves packages out', () => {
    const r = buildComparison(
      {
        baseline: { report: base, etc: null, all: null },
        target: { report: target, etc: null, all: null },
        config: null,
        files: null,
        warnings: [],
      },
      {
        compare_packages: false,
        compare_files: false,
        compare_config: false,
        ignore_timestamps: true,
        recommendations: false,
      },
    );
    expect(r.packages).toBeNull();
    expect(r.recommendations).toBeUndefined();
    expect(r.summary.services).toEqual({ added: 1, removed: 1, enabled: 1, disabled: 1 });
    expect(r.summary.users).toEqual({ added: 1, removed: 0, changed: 0 });
    expect(r.summary.identical).toBe(false);
  });

  it('debian vs ubuntu: distribution change and many package differences', () => {
    const d = diffReports(base, reportFromFacts(UBUNTU_FACTS));
    expect(d.operating_system.find((c) => c.field === 'distribution')).toEqual({
      field: 'distribution',
      from: 'debian',
      to: 'ubuntu',
    });
    expect(d.packages.added.map((p) => p.name)).toContain('vsftpd');
    expect(d.users.added.map((u) => u.name)).toEqual(expect.arrayContaining(['guest', 'toor']));
  });
});

describe('fieldChanges', () => {
  it('walks objects by dotted path, ignores string-array order, reports added/removed keys', () => {
    expect(fieldChanges({ a: { b: 1, c: ['x', 'y'] } }, { a: { b: 2, c: ['y', 'x'] }, d: true })).toEqual([
      { field: 'a.b', from: 1, to: 2 },
      { field: 'd', from: null, to: true },
    ]);
  });
});

describe('file trees', () => {
  const snap = (dir: string, files: Record<string, [string, number, number?]>): TreeSnapshot => ({
    dir,
    sums: new Map(Object.entries(files).map(([p, [sum]]) => [p, sum.padEnd(64, '0')])),
    stats: new Map(
      Object.entries(files).map(([p, [, mode, mtime]]) => [
        p,
        { mode: 0o100000 | mode, uid: 0, gid: 0, size: 10, mtime: mtime ?? 1 },
      ]),
    ),
  });

  it('added, removed, changed by checksum; mode changes always, mtime only without ignore_timestamps', () => {
    const a = snap('/etc', {
      '/etc/a': ['1', 0o644],
      '/etc/b': ['2', 0o644, 5],
      '/etc/gone': ['3', 0o644],
      '/etc/m': ['4', 0o644],
    });
    const b = snap('/etc', {
      '/etc/a': ['1', 0o644],
      '/etc/b': ['2', 0o644, 9],
      '/etc/new': ['5', 0o644],
      '/etc/m': ['6', 0o666],
    });
    const d = diffTrees(a, b, { ignoreTimestamps: true });
    expect(d).toMatchObject({ root: '/etc', compared: 5, added: ['/etc/new'], removed: ['/etc/gone'] });
    expect(d.changed.map((c) => c.path)).toEqual(['/etc/m']);
    expect(d.metadata_changed).toEqual([
      { path: '/etc/m', changes: [{ field: 'mode', from: '0644', to: '0666' }] },
    ]);
    const strict = diffTrees(a, b, { ignoreTimestamps: false });
    expect(strict.metadata_changed?.map((m) => m.path)).toEqual(['/etc/b', '/etc/m']);
  });

  it('attachDiffs: text diff, or why not', () => {
    const changes = [
      { path: '/etc/t', baseline_sha256: 'a', target_sha256: 'b', baseline_size: 2, target_size: 2 },
      { path: '/etc/bin', baseline_sha256: 'a', target_sha256: 'b', baseline_size: 2, target_size: 2 },
      { path: '/etc/big', baseline_sha256: 'a', target_sha256: 'b', baseline_size: 2, target_size: 2 },
    ];
    attachDiffs(
      changes,
      new Map([
        ['/etc/t', { text: 'a\n' }],
        ['/etc/bin', { omitted: 'binary' as const }],
        ['/etc/big', { text: 'x' }],
      ]),
      new Map([
        ['/etc/t', { text: 'b\n' }],
        ['/etc/bin', { text: 'x' }],
        ['/etc/big', { omitted: 'too_large' as const }],
      ]),
    );
    expect(changes[0]).toMatchObject({ diff: '--- baseline/etc/t\n+++ target/etc/t\n@@ -1 +1 @@\n-a\n+b\n' });
    expect(changes[1]).toMatchObject({ diff_omitted: 'binary' });
    expect(changes[2]).toMatchObject({ diff_omitted: 'too_large' });
  });

  it('never reads secrets: shadow, private keys and the like are compared by checksum only', async () => {
    for (const p of [
      '/etc/shadow',
      '/etc/gshadow-',
      '/etc/ssh/ssh_host_ed25519_key',
      '/etc/pki/tls/private/a',
      '/etc/x/server.key',
    ]) {
      expect(isSensitive(p), p).toBe(true);
    }
    for (const p of [
      '/etc/passwd',
      '/etc/ssh/ssh_host_ed25519_key.pub',
      '/etc/ssh/sshd_config',
      '/etc/group',
    ]) {
      expect(isSensitive(p), p).toBe(false);
    }
    const read: string[] = [];
    const g = {
      readFile: async (path: string) => {
        read.push(path);
        return Buffer.from('x\n');
      },
    } as unknown as Guestfs;
    const change = (path: string) => ({
      path,
      baseline_sha256: 'a',
      target_sha256: 'b',
      baseline_size: 2,
      target_size: 2,
    });
    const got = await readChanged(
      g,
      [change('/etc/shadow'), change('/etc/passwd'), change('/etc/big')].map((c) =>
        c.path === '/etc/big' ? { ...c, target_size: 1 << 20 } : c,
      ),
      'target',
    );
    expect(read).toEqual(['/etc/passwd']);
    expect(got.get('/etc/shadow')).toEqual({ omitted: 'sensitive' });
    expect(got.get('/etc/big')).toEqual({ omitted: 'too_large' });
    expect(got.get('/etc/passwd')).toEqual({ text: 'x\n' });
  });

  it('parses sha256sum output, including escaped names, into absolute guest paths', () => {
    const h = 'ab'.repeat(32);
    const text = `${h}  ./passwd\n${h}  ./ssh/sshd_config\n\\${h}  ./odd\\nname\\\\x\n\n`;
    expect([...parseChecksums(text, '/etc').keys()]).toEqual([
      '/etc/passwd',
      '/etc/ssh/sshd_config',
      '/etc/odd\nname\\x',
    ]);
    expect([...parseChecksums(`${h}  ./bin/ls\n`, '/').keys()]).toEqual(['/bin/ls']);
  });
});

describe('recommendations', () => {
  const base = reportFromFacts(DEBIAN_FACTS);

  it('flag security regressions, new uid-0 accounts, downgrades, service changes and config drift', () => {
    const worse = reportFromFacts({
      ...DEBIAN_FACTS,
      users: [
        ...DEBIAN_FACTS.users,
        { name: 'toor', uid: 0, gid: 0, home: '/root', shell: '/bin/bash', password: 'hashed' },
      ],
      packages: DEBIAN_FACTS.packages
        .filter((p) => p.name !== 'auditd')
        .map((p) => (p.name === 'bash' ? { ...p, version: '5.1' } : p)),
      enabledServices: DEBIAN_FACTS.enabledServices.filter((s) => s !== 'nftables.service'),
      security: { ...DEBIAN_FACTS.security, ssh: { permitRootLogin: 'yes', passwordAuthentication: true } },
    });
    const recs = recommend(diffReports(base, worse), {
      root: '/etc',
      compared: 3,
      added: [],
      removed: [],
      changed: [],
      metadata_changed: [{ path: '/etc/app.env', changes: [{ field: 'mode', from: '0644', to: '0666' }] }],
    });
    const text = recs.map((r) => `${r.severity} ${r.message}`).join('\n');
    expect(recs[0]).toMatchObject({ severity: 'critical', category: 'users' });
    expect(text).toMatch(/critical New accounts with uid 0: toor/);
    expect(text).toMatch(/high sshd PermitRootLogin went from no to yes/);
    expect(text).toMatch(/medium sshd PasswordAuthentication was turned on/);
    expect(text).toMatch(/high Security packages were removed: auditd/);
    expect(text).toMatch(/medium Downgraded packages: bash 5.2.15-2\+b2 → 5.1-2\+b2/);
    expect(text).toMatch(/low Services no longer enabled: nftables.service/);
    expect(text).toMatch(/high Files became world-writable: \/etc\/app.env/);
  });
});

describe('payload validation', () => {
  it('defaults per the spec, recommendations off unless asked (top-level or in options)', () => {
    const p = validateComparePayload({ baseline: { path: '/a' }, target: { path: '/b', format: 'img' } });
    expect(p.options).toEqual({
      compare_packages: true,
      compare_files: false,
      compare_config: true,
      ignore_timestamps: true,
      recommendations: false,
    });
    expect(p.target.format).toBe('raw');
    expect(
      validateComparePayload({ baseline: { path: '/a' }, target: { path: '/b' }, recommendations: true })
        .options.recommendations,
    ).toBe(true);
    expect(
      validateComparePayload({
        baseline: { path: '/a' },
        target: { path: '/b' },
        options: { recommendations: true },
      }).options.recommendations,
    ).toBe(true);
  });

  it.each([
    [{ target: { path: '/b' } }, /Missing required field: payload.data.baseline/],
    [{ baseline: { path: '/a' } }, /Missing required field: payload.data.target/],
    [
      { baseline: { path: '/a' }, target: { path: '/b' }, options: { compare_files: 1 } },
      /compare_files - must be true or false/,
    ],
    [{ baseline: { path: '/a', checksum: 'xyz' }, target: { path: '/b' } }, /checksum/i],
  ])('refuses %j', (data, message) => {
    expect(() => validateComparePayload(data)).toThrow(message);
  });
});
