// guestkit.profile: one appliance lease per job serves every requested profile. Each root's
// inspection report and extra file facts are collected in one mount, then the rules run on the
// JS side (pure, cheap). fail_on_critical fails the job after the report is written.
import { HandlerError } from '../../protocol/errors.js';
import { collectReport } from '../inspect/collect.js';
import type { HandlerContext, HandlerResult, JobHandler } from '../types.js';
import { imageInfo, prepareInput, noOperatingSystem, runOnAppliance } from './appliance-step.js';
import { collectProfileFacts } from './facts.js';
import { validateProfilePayload, type ProfileRequest } from './payload.js';
import { evaluateProfiles } from './profiles.js';
import { resolveDestination, writeReportFile } from './report-file.js';
import type { ProfileFacts, ProfileReport, RuleInput } from './types.js';

export { validateProfilePayload, type ProfileRequest } from './payload.js';
export { evaluateProfiles, PROFILES, countBySeverity } from './profiles.js';
export type * from './types.js';

export interface ProfileResultData {
  status: 'success';
  output_file: string | null;
  summary: ProfileReport['summary'] & { profiles: string[]; roots: number };
  report: ProfileReport;
}

async function run(ctx: HandlerContext<ProfileRequest>): Promise<HandlerResult> {
  const { data } = ctx;
  ctx.progress('validation', 0, 'Checking image and output paths');
  const input = await prepareInput(ctx, data.image, 'payload.data.image');
  const destination = await resolveDestination(
    data.output,
    ctx.config.allowedRoots,
    'payload.data.output.destination',
  );

  const { image, roots } = await runOnAppliance(ctx, [input], async (lease) => {
    const found = await lease.roots();
    if (found.length === 0) throw noOperatingSystem(input);
    const image = imageInfo(input, lease.drives[0]);
    const roots: RuleInput[] = [];
    for (const [i, root] of found.entries()) {
      let facts: ProfileFacts | undefined;
      const span = 70 / found.length;
      const report = await collectReport(
        lease,
        root,
        {},
        {
          signal: lease.signal,
          image,
          progress: (phase, percent, message) =>
            ctx.progress(phase, 20 + span * i + (span * Math.min(100, percent)) / 100, message),
          whileMounted: async (g, _root, partial) => {
            ctx.progress('security_scan', 20 + span * (i + 0.9), `Profile checks on ${root}`);
            facts = await collectProfileFacts(g, partial);
          },
        },
      );
      if (!facts) throw new HandlerError('EXECUTION_ERROR', `Profile facts of ${root} were not collected`);
      roots.push({ report, facts });
    }
    return { image, roots };
  });

  ctx.progress('result_generation', 92, `Running profiles: ${data.profiles.join(', ')}`);
  const report = evaluateProfiles(image, data.profiles, roots, {
    severityThreshold: data.options.severity_threshold,
    includeRemediation: data.includeRemediation,
  });
  if (destination) {
    const bytes = await writeReportFile(destination, data.output, report);
    ctx.metrics.diskWrite(bytes);
  }
  const critical = report.findings.filter((f) => f.severity === 'critical');
  ctx.logger.info(
    { findings: report.summary.total_findings, critical: critical.length, output_file: destination },
    'profile finished',
  );
  if (data.options.fail_on_critical && critical.length > 0) {
    throw new HandlerError(
      'EXECUTION_ERROR',
      `${critical.length} critical finding(s) with fail_on_critical set: ` +
        `${critical.map((f) => `${f.id} ${f.title}`).join('; ')}. The report was written` +
        (destination ? ` to ${destination}` : ' into the error details'),
      {
        phase: 'result_generation',
        details: { critical: critical.map((f) => f.id), output_file: destination, report },
      },
    );
  }
  ctx.progress('result_generation', 100, `${report.summary.total_findings} finding(s)`);
  const result: ProfileResultData = {
    status: 'success',
    output_file: destination,
    summary: { ...report.summary, profiles: report.profiles, roots: roots.length },
    report,
  };
  return { data: result, ...(destination ? { outputs: { primary: destination } } : {}) };
}

export const profileHandler: JobHandler<ProfileRequest> = {
  operation: 'guestkit.profile',
  payloadTypes: ['guestkit.profile.v1'],
  description: 'Security, compliance, hardening, performance and migration checks of a disk image',
  validate: (data) => validateProfilePayload(data),
  run,
};
