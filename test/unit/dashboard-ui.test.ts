// The dashboard's pure logic (no DOM): hash routes, SSE framing, and the quick security findings
// the report page colours. The pages themselves are proven in a real browser
// (test/integration/dashboard.test.ts).
import { describe, expect, it } from 'vitest';
import { securityFindings } from '../../src/report/findings.js';
import type { InspectReport } from '../../src/dashboard/ui/report-types.js';
import { href, parseRoute } from '../../src/dashboard/ui/routes.js';
import { parseSseBlock } from '../../src/dashboard/ui/sse.js';
import { retryEnvelope } from '../../src/dashboard/ui/envelopes.js';
import { buildData, FormError, formFields } from '../../src/dashboard/ui/schema-form.js';
import { OPERATION_PAYLOADS, PROFILE_NAMES } from '../../src/protocol/payloads/index.js';
import { Ajv } from 'ajv';

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
    expect(parseRoute('#/files')).toEqual({ page: 'files' });
    expect(parseRoute(href.files('/var/lib/images/a b#1.qcow2'))).toEqual({
      page: 'files',
      image: '/var/lib/images/a b#1.qcow2',
    });
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

describe('submit forms from the payload schemas', () => {
  it('turns every operation schema into fields; required ones are those the schema requires', () => {
    for (const [op, { schema }] of Object.entries(OPERATION_PAYLOADS)) {
      const fields = formFields(schema);
      expect(fields.length, op).toBeGreaterThan(0);
    }
    const profile = formFields(OPERATION_PAYLOADS['guestkit.profile'].schema);
    const byKey = Object.fromEntries(profile.map((f) => [f.key, f]));
    expect(byKey['image.path']).toMatchObject({ kind: 'text', required: true });
    expect(byKey['image.format']).toMatchObject({ kind: 'enum', required: false });
    expect(byKey['image.format'].options).toContain('qcow2');
    expect(byKey.profiles).toMatchObject({ kind: 'multi', options: [...PROFILE_NAMES] });
    expect(byKey['options.severity_threshold']).toMatchObject({ kind: 'enum', default: 'info' });
    expect(byKey['options.fail_on_critical']).toMatchObject({
      kind: 'flag',
      default: false,
      required: false,
    });
    expect(byKey['output.include_remediation']).toMatchObject({ kind: 'flag' });
    // Convert: the current form (source/target), not the older flat one.
    const convert = formFields(OPERATION_PAYLOADS['guestkit.convert'].schema).map((f) => f.key);
    expect(convert).toEqual(expect.arrayContaining(['source.path', 'target.path', 'target.format']));
    expect(convert).not.toContain('target_format');
    const repair = Object.fromEntries(
      formFields(OPERATION_PAYLOADS['guestkit.repair'].schema).map((f) => [f.key, f]),
    );
    expect(repair.min_score).toMatchObject({ kind: 'number', integer: false, min: 0, max: 100 });
    // Echo takes any JSON: one field for the whole payload.data.
    expect(formFields(OPERATION_PAYLOADS['system.echo'].schema)).toMatchObject([{ key: '', kind: 'json' }]);
  });

  it('builds payload.data from what was typed, leaving empty fields to the defaults', () => {
    const fields = formFields(OPERATION_PAYLOADS['guestkit.profile'].schema);
    const data = buildData(fields, {
      'image.path': ' /vms/a.img ',
      'image.format': '',
      profiles: ['security'],
      'options.fail_on_critical': 'true',
      'options.include_remediation': '',
      'output.include_remediation': 'false',
    });
    expect(data).toEqual({
      image: { path: '/vms/a.img' },
      profiles: ['security'],
      options: { fail_on_critical: true },
      output: { include_remediation: false },
    });
    const ajv = new Ajv({ strict: false });
    expect(ajv.validate(OPERATION_PAYLOADS['guestkit.profile'].schema, data), ajv.errorsText()).toBe(true);
    expect(() => buildData(fields, {})).toThrow(new FormError('image.path is required'));
    const repair = formFields(OPERATION_PAYLOADS['guestkit.repair'].schema);
    expect(() => buildData(repair, { 'image.path': '/a', min_score: 'x' })).toThrow(
      /min_score must be a number/,
    );
    const echoFields = formFields(OPERATION_PAYLOADS['system.echo'].schema);
    expect(buildData(echoFields, { '': '{"message": "hi"}' })).toEqual({ message: 'hi' });
    expect(buildData(echoFields, {})).toEqual({});
    expect(() => buildData(echoFields, { '': '{' })).toThrow(/payload.data is not valid JSON/);
  });
});
