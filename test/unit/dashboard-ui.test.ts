// The dashboard's pure logic (no DOM): hash routes, SSE framing, and the quick security findings
// the report page colours. The pages themselves are proven in a real browser
// (test/integration/dashboard.test.ts).
import { describe, expect, it } from 'vitest';
import { securityFindings } from '../../src/report/findings.js';
import type { InspectReport } from '../../src/dashboard/ui/report-types.js';
import { href, parseRoute } from '../../src/dashboard/ui/routes.js';
import { parseSseBlock } from '../../src/dashboard/ui/sse.js';
import { retryEnvelope } from '../../src/dashboard/ui/envelopes.js';

describe('dashboard routes', () => {
  it('maps hashes to pages and back', () => {
    expect(parseRoute('')).toEqual({ page: 'jobs' });
    expect(parseRoute('#/')).toEqual({ page: 'jobs' });
    expect(parseRoute('#/jobs')).toEqual({ page: 'jobs' });
    expect(parseRoute('#/jobs/job-1:a.b')).toEqual({ page: 'job', id: 'job-1:a.b' });
    expect(parseRoute('#/jobs/x1/report')).toEqual({ page: 'report', id: 'x1' });
    expect(parseRoute('#/jobs/x1/compare')).toEqual({ page: 'compare', id: 'x1' });
    expect(parseRoute('#/jobs/x1/doctor')).toEqual({ page: 'doctor', id: 'x1' });
    expect(parseRoute('#/workers')).toEqual({ page: 'workers' });
    expect(parseRoute('#/submit')).toEqual({ page: 'submit' });
    expect(parseRoute('#/jobs/x1/nope')).toEqual({ page: 'missing', path: '/jobs/x1/nope' });
    expect(parseRoute('#security')).toEqual({ page: 'missing', path: 'security' });
    for (const id of ['job-01ABC', 'a:b.c-d_e']) {
      expect(parseRoute(href.job(id))).toEqual({ page: 'job', id });
      expect(parseRoute(href.report(id))).toEqual({ page: 'report', id });
      expect(parseRoute(href.compare(id))).toEqual({ page: 'compare', id });
      expect(parseRoute(href.doctor(id))).toEqual({ page: 'doctor', id });
    }
  });
});

describe('dashboard SSE framing', () => {
  it('reads event, id and multi-line data; skips comments and data-less blocks', () => {
    expect(parseSseBlock('id: 3\nevent: progress\ndata: {"a":1}')).toEqual({
      event: 'progress',
      data: '{"a":1}',
      id: '3',
    });
    expect(parseSseBlock('data: one\ndata:two')).toEqual({
      event: 'message',
      data: 'one\ntwo',
      id: undefined,
    });
    expect(parseSseBlock(': keepalive')).toBeUndefined();
    expect(parseSseBlock('event: end')).toBeUndefined();
    expect(parseSseBlock('data:  two spaces')?.data).toBe(' two spaces');
  });
});

function report(patch: {
  distribution?: string;
  ssh?: Partial<NonNullable<InspectReport['security']>['ssh']>;
  firewallOn?: boolean;
  selinux?: string;
  apparmor?: boolean;
  accounts?: { name: string; uid: number; empty_password?: boolean }[];
}): InspectReport {
  const account = (a: { name: string; uid: number; empty_password?: boolean }) => ({
    gid: a.uid,
    home: '/',
    shell: '/bin/bash',
    login: true,
    system: a.uid < 1000,
    ...a,
  });
  return {
    operating_system: { distribution: patch.distribution ?? 'debian' },
    users: { count: 0, login_count: 0, accounts: (patch.accounts ?? []).map(account) },
    security: {
      selinux: { status: patch.selinux ?? 'absent', enabled: patch.selinux === 'enforcing' },
      apparmor: { enabled: patch.apparmor ?? true },
      firewall: {
        ufw: { installed: true, enabled: false },
        nftables: { installed: true, enabled: patch.firewallOn ?? true },
      },
      ssh: { permit_root_login: 'no', password_authentication: 'no', ...patch.ssh },
    },
  } as unknown as InspectReport;
}

const summary = (r: InspectReport) => securityFindings(r).map((f) => `${f.severity}:${f.id}`);

describe('dashboard quick security findings', () => {
  it('a tidy guest gets one info line', () => {
    expect(summary(report({ accounts: [{ name: 'root', uid: 0 }] }))).toEqual(['info:none']);
  });

  it('a neglected guest gets each planted problem at its severity', () => {
    const r = report({
      distribution: 'ubuntu',
      ssh: { permit_root_login: 'yes', password_authentication: 'yes' },
      firewallOn: false,
      apparmor: false,
      accounts: [
        { name: 'root', uid: 0 },
        { name: 'guest', uid: 1001, empty_password: true },
        { name: 'toor', uid: 0 },
      ],
    });
    expect(summary(r)).toEqual([
      'critical:empty-password-guest',
      'critical:uid0-toor',
      'high:ssh-root-login',
      'medium:ssh-password-auth',
      'medium:no-firewall',
      'low:apparmor-off',
    ]);
  });

  it('SELinux matters on the RHEL family only', () => {
    expect(summary(report({ distribution: 'rocky', selinux: 'disabled' }))).toEqual([
      'high:selinux-disabled',
    ]);
    expect(summary(report({ distribution: 'rhel', selinux: 'permissive' }))).toEqual([
      'medium:selinux-permissive',
    ]);
    expect(summary(report({ distribution: 'debian', selinux: 'disabled' }))).toEqual(['info:none']);
  });
});

describe('retry envelopes', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  const submitted = {
    version: '1.0',
    job_id: 'job-a',
    created_at: '2026-01-01T00:00:00Z',
    kind: 'VMOperation',
    operation: 'guestkit.inspect',
    payload: { type: 'guestkit.inspect.v1', data: { image: { path: '/vms/a.img' } } },
    execution: {
      priority: 7,
      max_attempts: 2,
      idempotency_key: 'inspect-a',
      deadline: '2026-02-01T00:00:00Z',
    },
    metadata: { name: 'a', labels: { team: 'x' } },
  };

  it('keeps the payload and settings under a new id; drops the key and a passed deadline', () => {
    const r = retryEnvelope(submitted, now);
    expect(r.job_id).not.toBe('job-a');
    expect(r.job_id).toMatch(/^retry-/);
    expect(r.created_at).toBe('2026-06-01T12:00:00.000Z');
    expect(r.payload).toEqual(submitted.payload);
    expect(r.execution).toEqual({ priority: 7, max_attempts: 2 });
    expect(r.metadata).toEqual({ name: 'a', labels: { team: 'x', retry_of: 'job-a' } });
    expect(submitted.execution.idempotency_key).toBe('inspect-a'); // the original is not changed
  });

  it('keeps a deadline still ahead, and works without execution or metadata', () => {
    const ahead = { ...submitted, execution: { deadline: '2027-01-01T00:00:00Z' } };
    expect(retryEnvelope(ahead, now).execution).toEqual({ deadline: '2027-01-01T00:00:00Z' });
    const bare = retryEnvelope({ job_id: 'b', operation: 'system.echo' }, now);
    expect(bare.execution).toBeUndefined();
    expect(bare.metadata).toEqual({ labels: { retry_of: 'b' } });
    expect(() => retryEnvelope(null)).toThrow(/not an object/);
  });
});
