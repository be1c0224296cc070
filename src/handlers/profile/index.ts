// guestkit.profile: one appliance lease per job serves every requested profile. Each root's
// inspection report and extra file facts are collected in one mount, then the rules run on the
// JS side (pure, cheap). fail_on_critical fails the job after the report is written.
import { OPERATIONS } from '../../protocol/vocabulary.js';
import { HandlerError } from '../../protocol/errors.js';
import { resolveOutputPath } from '../../worker/outputs.js';
import { libguestfsAvailable } from '../image.js';
import { reserveImages, withImages } from '../inspect/attach.js';
import { collectReport } from '../inspect/collect.js';
import { noOperatingSystem } from '../inspect/index.js';
import { writeReport } from '../inspect/output.js';
import type { HandlerContext, HandlerResult, JobHandler } from '../types.js';
import { collectProfileFacts } from './facts.js';
import { validateProfilePayload, type ProfileRequest } from './payload.js';
import { evaluateProfiles } from './profiles.js';
import type { ProfileFacts, ProfileReport, RuleInput } from './types.js';

export { validateProfilePayload, type ProfileRequest } from './payload.js';
export { evaluateProfiles, PROFILES, countBySeverity } from './profiles.js';
export { collectProfileFacts } from './facts.js';
export type * from './types.js';

export interface ProfileResultData {
  status: 'success';
  output_file: string | null;
  summary: ProfileReport['summary'] & { profiles: string[]; roots: number };
  report: ProfileReport;
}

async function run(ctx: HandlerContext<ProfileRequest>): Promise<HandlerResult<ProfileResultData>> {
  const { data } = ctx;
  if (data.output.destination) {
    // Fail before minutes of inspection, not after.
    await resolveOutputPath(data.output.destination, ctx.config, 'payload.data.output.destination');
  }
  const { image, roots } = await withImages(
    ctx,
    [data.image],
    async (lease, [image]) => {
      ctx.progress('os_detection', 32, 'Detecting operating systems');
      const found = await lease.roots();
      if (found.length === 0) throw noOperatingSystem(data.image.path);
      const roots: RuleInput[] = [];
      const span = 55 / found.length;
      for (const [i, root] of found.entries()) {
        let facts: ProfileFacts | undefined;
        const report = await collectReport(
          lease,
          root,
          {},
          {
            image,
            siblings: found,
            progress: (phase, percent, message) =>
              ctx.progress(phase, 35 + span * i + (span * Math.min(100, percent)) / 100, message),
            whileMounted: async (g, _root, partial) => {
              ctx.progress(
                'security_scan',
                35 + span * (i + 0.9),
                `Profile checks on ${partial.operating_system.root}`,
              );
              facts = await collectProfileFacts(g, partial);
            },
          },
        );
        if (!facts) throw new HandlerError('EXECUTION_ERROR', `Profile facts of ${root} were not collected`);
        roots.push({ report, facts });
      }
      return { image, roots };
    },
    { isolated: data.isolated },
  );

  ctx.progress('result_generation', 92, `Running profiles: ${data.profiles.join(', ')}`);
  const report = evaluateProfiles(image, data.profiles, roots, {
    severityThreshold: data.options.severity_threshold,
    includeRemediation: data.includeRemediation,
  });
  const file = await writeReport(report, data.output, ctx.config, (n) => ctx.metrics.diskWrite(n));
  const critical = report.findings.filter((f) => f.severity === 'critical');
  ctx.logger.info(
    { findings: report.summary.total_findings, critical: critical.length, output_file: file },
    'profile finished',
  );
  if (data.options.fail_on_critical && critical.length > 0) {
    throw new HandlerError(
      'EXECUTION_ERROR',
      `${critical.length} critical finding(s) with fail_on_critical set: ` +
        `${critical.map((f) => `${f.id} ${f.title}`).join('; ')}. The report was written` +
        (file ? ` to ${file}` : ' into the error details'),
      {
        phase: 'result_generation',
        details: { critical: critical.map((f) => f.id), output_file: file, report },
      },
    );
  }
  ctx.progress('cleanup', 100, `${report.summary.total_findings} finding(s)`);
  const result: ProfileResultData = {
    status: 'success',
    output_file: file,
    summary: { ...report.summary, profiles: report.profiles, roots: roots.length },
    report,
  };
  return { data: result, ...(file ? { outputs: { primary: file, artifacts: [file] } } : {}) };
}

export const profileHandler: JobHandler<ProfileRequest, ProfileResultData> = {
  operation: OPERATIONS.profile,
  payloadTypes: ['guestkit.profile.v1'],
  description: 'Security, compliance, hardening, performance and migration checks of a disk image',
  validate: (data) => validateProfilePayload(data),
  reserve: reserveImages((d) => ({ images: [d.image], isolated: d.isolated })),
  run,
  available: libguestfsAvailable,
};
