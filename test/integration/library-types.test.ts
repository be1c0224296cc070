// What a TypeScript user of the package gets: consumer files compiled with `tsc --strict` against
// the built package (its declarations, reached by name through package.json `exports`). A payload
// with a wrong field, a wrong type or a misspelt name fails to compile where it is written; a
// right one compiles; the inspect report's fields are typed.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/native.js';
import { ensureDist } from './daemon-process.js';

const app = mkdtempSync(join(tmpdir(), 'guestkit-types-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

beforeAll(() => {
  ensureDist();
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(PACKAGE_ROOT, join(app, 'node_modules', 'guestkit-worker'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module' }));
});

/** Compiles `source` as a consumer module; the lines (1-based) that have errors, and the texts. */
function compile(name: string, source: string): { lines: number[]; messages: string[] } {
  const file = join(app, name);
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    typeRoots: [join(PACKAGE_ROOT, 'node_modules', '@types')],
    skipLibCheck: true,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const lines: number[] = [];
  const messages: string[] = [];
  for (const d of diagnostics) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    // Every diagnostic must be in the consumer file: an error in the package's own declarations
    // is a defect of the package, whatever the consumer wrote.
    expect(d.file?.fileName, text).toBe(file);
    lines.push(d.file!.getLineAndCharacterOfPosition(d.start!).line + 1);
    messages.push(text);
  }
  return { lines: [...new Set(lines)].sort((a, b) => a - b), messages };
}

/** Lines of `source` marked `// error` (what must fail to compile). */
const marked = (source: string): number[] =>
  source.split('\n').flatMap((line, i) => (line.includes('// error') ? [i + 1] : []));

const GOOD = `
import { sha256File, Guestfs, type InspectedRoot } from 'guestkit-worker';
import {
  buildJob,
  createWorker,
  inspectJob,
  JobBuilder,
  type InspectionReport,
  type ResultDataOf,
  type ComparisonReport,
  type FixReport,
  type ProfileReport,
  type ConvertResultData,
  type DoctorResultData,
} from 'guestkit-worker/worker';

export async function main(): Promise<string> {
  const hash: string = await sha256File('/etc/hostname');
  const roots: InspectedRoot[] | undefined = undefined;
  void roots;
  void Guestfs;
  const worker = createWorker({ stateDir: '/tmp/app' });
  const job = buildJob(
    'guestkit.inspect',
    { image: { path: '/images/web.qcow2', format: 'qcow2' }, options: { deep_scan: true } },
    (b) => b.priority(7).labels({ team: 'ops' }),
  );
  await worker.submit(job);
  await worker.submit(inspectJob({ image: { path: '/images/web.qcow2' }, output: { format: 'yaml' } }));
  await worker.submit(inspectJob('/images/web.qcow2', { format: 'qcow2' }));
  await worker.submit(
    buildJob('guestkit.fix', {
      image: { path: '/images/web.qcow2' },
      operations: [{ type: 'set_hostname', options: { hostname: 'web-01' } }, { type: 'fsck' }],
    }),
  );
  await worker.submit(new JobBuilder('guestkit.profile').data({ image: { path: '/i' }, profiles: ['security'] }).build());
  await worker.submit(new JobBuilder('my.own-operation').data({ anything: [1, 2] }).build());
  const r = await worker.result(job.job_id, 'guestkit.inspect');
  if (r?.status !== 'completed') return r?.error?.message ?? 'not finished';
  const report: InspectionReport = r.data.report;
  const distro: string = report.operating_system.distribution;
  const major: number = r.data.report.operating_system.major_version;
  const packages: number | null = r.data.summary.packages;
  const plain = await worker.result(job.job_id);
  const untyped: unknown = plain?.data;
  const other: ResultDataOf<'guestkit.compare'> | undefined = undefined;
  const c: ComparisonReport | undefined = other;
  void [c, untyped, major, packages, hash];
  type Reports = [FixReport, ProfileReport, ConvertResultData['target'], DoctorResultData['verdict']];
  const none: Reports | undefined = undefined;
  void none;
  return distro;
}
`;

const BAD = `
import { buildJob, inspectJob, JobBuilder, type Worker } from 'guestkit-worker/worker';
import { sha256File } from 'guestkit-worker';

export async function main(worker: Worker): Promise<void> {
  buildJob('guestkit.inspect', { image: { path: 1 } }); // error: path is a string
  buildJob('guestkit.inspect', { image: { path: '/i' }, optoins: { deep_scan: true } }); // error: misspelt
  buildJob('guestkit.inspect', { options: { deep_scan: true } }); // error: no image
  buildJob('guestkit.inspect', { image: { path: '/i', format: 'iso' } }); // error: no such format
  buildJob('guestkit.inspect', { image: { path: '/i' }, options: { deep_scan: 'yes' } }); // error: boolean
  buildJob('guestkit.profile', { image: { path: '/i' }, profiles: ['secrity'] }); // error: no such profile
  buildJob('guestkit.fix', { image: { path: '/i' }, operations: [{ type: 'set_hostname', options: { hostnam: 'a' } }] }); // error
  buildJob('guestkit.inspectt', {}); // error: no such operation
  new JobBuilder('guestkit.inspect').data({ image: { path: 1 } }); // error: the builder is typed too
  inspectJob({ image: { path: '/i' }, output: { format: 'xml' } }); // error: json or yaml
  const r = await worker.result('job-1', 'guestkit.inspect');
  if (r?.status === 'completed') {
    const n: number = r.data.report.operating_system.hostname; // error: a string
    void r.data.report.operating_system.distro; // error: it is 'distribution'
    void n;
  }
  await worker.result('job-1', 'guestkit.nope'); // error: not an operation
  await sha256File(42); // error: a path
}
`;

describe('the package as TypeScript sees it', () => {
  it('a right consumer compiles with --strict', () => {
    const { messages } = compile('good.ts', GOOD);
    expect(messages).toEqual([]);
  });

  it('each wrong payload field, type, operation or report field fails on its own line, and nothing else does', () => {
    const { lines, messages } = compile('bad.ts', BAD);
    expect(lines, messages.join('\n')).toEqual(marked(BAD));
  });
});
