// The migration check of a guestkit.doctor / migrate-plan / repair job: score and verdict, the
// blockers first, then warnings and the checks that passed, and the fix plan when there is one.
import { Section } from '../components/common.js';
import { JobReport } from '../components/job-report.js';

interface Check {
  id: string;
  name: string;
  category: string;
  passed: boolean;
  severity: 'blocker' | 'warning' | 'info';
  message: string;
  remediation: string | null;
  evidence: { read: string[] };
}
interface Diagnosis {
  target: string;
  score: number | null;
  verdict: string;
  summary: string;
  checks: Check[];
}
interface Step {
  id: string;
  action: string;
  operation: { type: string } | null;
}
interface Doctor {
  diagnosis: Diagnosis;
  steps?: Step[];
  predicted?: number | null;
}

/** doctor data is the diagnosis; migrate-plan carries it in `diagnosis`, repair in `after`/`before`. */
function pick(data: unknown): Doctor | null {
  const d = data as Partial<Diagnosis> & {
    diagnosis?: Diagnosis;
    before?: Diagnosis;
    after?: Diagnosis;
    steps?: Step[];
    plan?: { steps: Step[] };
    predicted_score?: number | null;
  };
  const diagnosis = d?.checks ? (d as Diagnosis) : (d?.after ?? d?.diagnosis ?? d?.before);
  if (!diagnosis) return null;
  return { diagnosis, steps: d.steps ?? d.plan?.steps, predicted: d.predicted_score };
}

const RANK = { blocker: 0, warning: 1, info: 2 } as const;

export function DoctorPage({ id }: { id: string }) {
  return (
    <JobReport<Doctor>
      id={id}
      what="the migration check"
      missing="No migration check"
      pick={(data) => {
        const r = pick(data);
        return r
          ? { report: r }
          : { error: { code: 'NO_REPORT', message: `Job ${id} has no diagnosis in its result` } };
      }}
    >
      {({ diagnosis: d, steps, predicted }) => {
        const failed = d.checks.filter((c) => !c.passed).sort((a, b) => RANK[a.severity] - RANK[b.severity]);
        const passed = d.checks.filter((c) => c.passed);
        return (
          <>
            <Section id="score" title={`Migration to ${d.target}`}>
              <p class={`score verdict-${d.verdict}`} data-verdict={d.verdict}>
                <strong>{d.score ?? '–'}</strong> / 100 · {d.verdict}
                {predicted !== undefined && predicted !== null && (
                  <> · {predicted} after the automatic steps</>
                )}
              </p>
              <p>{d.summary}</p>
            </Section>
            <Section id="failed" title={`To fix (${failed.length})`}>
              <ul class="findings">
                {failed.map((c) => (
                  <li
                    key={c.id}
                    class={`finding sev-border-${c.severity === 'blocker' ? 'critical' : c.severity === 'warning' ? 'medium' : 'info'}`}
                    data-severity={c.severity}
                  >
                    <strong>
                      {c.severity === 'blocker' ? 'BLOCKER' : c.severity} {c.id} {c.name}
                    </strong>
                    <p>{c.message}</p>
                    {c.remediation && <p class="remediation">{c.remediation}</p>}
                    <p class="mono">read: {c.evidence.read.join(', ')}</p>
                  </li>
                ))}
              </ul>
            </Section>
            {steps && steps.length > 0 && (
              <Section id="plan" title="Fix plan">
                <ol>
                  {steps.map((s) => (
                    <li key={s.id}>
                      <span class="mono">{s.operation?.type ?? 'manual'}</span> {s.action}
                    </li>
                  ))}
                </ol>
              </Section>
            )}
            <Section id="passed" title={`Passed (${passed.length})`}>
              <ul>
                {passed.map((c) => (
                  <li key={c.id}>
                    {c.id} {c.name}: {c.message}
                  </li>
                ))}
              </ul>
            </Section>
          </>
        );
      }}
    </JobReport>
  );
}
