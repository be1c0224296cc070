// One attempt of one job: call the handler with an AbortSignal that fires on timeout, deadline,
// cancel or shutdown; collect progress and metrics; turn the outcome into a result document.
// Knows nothing about queues or stores, so a BullMQ processor can call it the same way.
import type { WorkerConfig } from '../config.js';
import type { AnyHandler, HandlerResult } from '../handlers/types.js';
import type { Logger } from '../logger.js';
import { WorkerError, toJobError, type JobErrorInfo } from '../protocol/errors.js';
import type { JobEnvelope, ProgressEvent, ResultDocument, TerminalStatus } from '../protocol/schema.js';

/** Why an attempt's signal was aborted from outside (timeouts are internal). */
export type AbortCause = 'cancel' | 'shutdown';

export interface AttemptInput {
  jobId: string;
  envelope: JobEnvelope;
  /** Payload data as returned by handler.validate. */
  data: unknown;
  attempt: number;
  timeoutSeconds: number;
  deadline: string | null;
  idempotencyKey: string | null;
  handler: AnyHandler;
  workerId: string;
  config: Readonly<WorkerConfig>;
  logger: Logger;
  /** Aborted by the caller for cancel / shutdown; its reason must be a WorkerError. */
  signal?: AbortSignal;
  /**
   * Receives the attempt's abort function at once (the caller's cancel / shutdown, without an
   * AbortSignal of its own): `reason` must be a WorkerError, as with `signal`.
   */
  bindAbort?(abort: (reason: WorkerError) => void): void;
  /** First progress sequence to use (numbering continues across attempts). */
  firstSequence: number;
  onProgress(event: ProgressEvent): void;
  onDiskIo?(read: number, write: number): void;
  onChecksum?(status: 'success' | 'failure' | 'skipped'): void;
}

export interface AttemptOutcome {
  /** `interrupted`: stopped by shutdown, to be re-queued (no result document). */
  status: TerminalStatus | 'interrupted';
  result: ResultDocument;
  error?: JobErrorInfo;
  startedAt: number;
  durationSeconds: number;
  /** The handler returned (or threw) by itself, i.e. it did not have to be abandoned. */
  handlerSettled: boolean;
}

/** A handler that ignores its signal is abandoned after this long (and a warning logged). */
const ABANDON_WARN_MS = 5000;

/**
 * process.resourceUsage(), shared by every attempt that starts or ends within USAGE_MAX_AGE_MS of
 * one reading. getrusage(RUSAGE_SELF) sums over all the process's threads: 4.5 µs in an idle
 * process here, but 190–380 µs a call measured inside a busy worker (its threads running on both
 * cores), 2–3 % of an echo job's CPU even when readings were shared within 10 ms. The figures are
 * process-wide anyway (jobs share the process), so a reading up to 100 ms old loses nothing a
 * caller could rely on; a job that runs longer than the window always gets a fresh reading at its
 * end.
 */
const USAGE_MAX_AGE_MS = 100;
let lastUsage: { at: number; value: NodeJS.ResourceUsage } | undefined;
function resourceUsage(): NodeJS.ResourceUsage {
  const now = performance.now();
  if (!lastUsage || now - lastUsage.at > USAGE_MAX_AGE_MS)
    lastUsage = { at: now, value: process.resourceUsage() };
  return lastUsage.value;
}

export async function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const startedAt = Date.now();
  // One getrusage() at each end: CPU time of the process during the attempt and its peak RSS
  // (process-wide figures; jobs share the process). Reading RSS per progress call was measurable.
  const usageStart = resourceUsage();
  const io = { read: 0, write: 0 };
  let sequence = input.firstSequence;
  let settled = false;
  const trace = input.envelope.observability;

  // The handler's AbortSignal is made when the handler first reads it: creating one is a
  // measurable share of a short job (~3 % of an echo job's CPU in the distributed profile). Until
  // then an abort only records its reason and ends the race below.
  let abortReason: WorkerError | undefined;
  let controller: AbortController | undefined;
  let rejectAborted: (reason: WorkerError) => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => (rejectAborted = reject));
  aborted.catch(() => undefined);
  const abort = (reason: WorkerError) => {
    if (abortReason) return;
    abortReason = reason;
    controller?.abort(reason);
    rejectAborted(reason);
  };
  const handlerSignal = (): AbortSignal => {
    if (!controller) {
      controller = new AbortController();
      if (abortReason) controller.abort(abortReason);
    }
    return controller.signal;
  };

  // Timeout and deadline: whichever comes first.
  const timeoutMs = input.timeoutSeconds * 1000;
  const deadlineMs = input.deadline ? Date.parse(input.deadline) - startedAt : Infinity;
  const byDeadline = deadlineMs < timeoutMs;
  const limitMs = Math.max(0, Math.min(timeoutMs, deadlineMs));
  // setTimeout clamps delays above 2^31-1 ms, and it counts from the event loop's cached clock,
  // which can lag Date.now() by the current turn's work: a 1 s timeout fired 998 ms after
  // startedAt. On firing it checks the wall clock and re-arms for whatever is left.
  const due = startedAt + limitMs;
  let timer: NodeJS.Timeout | undefined;
  const onTimer = () => {
    // "Exceeded": strictly past the limit (Date.now() has millisecond steps).
    const remaining = due - Date.now();
    if (remaining >= 0) {
      timer = setTimeout(onTimer, Math.min(remaining + 1, 2 ** 31 - 1));
      return;
    }
    abort(
      byDeadline
        ? new WorkerError('DEADLINE_EXCEEDED', `Job ${input.jobId} passed its deadline ${input.deadline}`, {
            recoverable: false,
          })
        : new WorkerError('TIMEOUT', `Job ${input.jobId} exceeded its timeout of ${input.timeoutSeconds} s`, {
            recoverable: true,
          }),
    );
  };
  timer = setTimeout(onTimer, Math.min(limitMs, 2 ** 31 - 1));
  const outer = input.signal;
  const onOuterAbort = () => abort(outer?.reason as WorkerError);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  input.bindAbort?.(abort);

  const log = input.logger;
  let currentPhase = 'validation';
  const ctx = {
    jobId: input.jobId,
    job: input.envelope,
    data: input.data,
    attempt: input.attempt,
    get signal() {
      return handlerSignal();
    },
    logger: log,
    config: input.config,
    progress(phase: string, percent: number, message: string, details?: Record<string, unknown>) {
      if (settled) return;
      currentPhase = phase;
      const event: ProgressEvent = {
        job_id: input.jobId,
        timestamp: new Date().toISOString(),
        sequence: sequence++,
        phase,
        progress_percent: Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0)),
        message,
      };
      if (details !== undefined) event.details = details;
      if (trace) event.observability = trace;
      input.onProgress(event);
    },
    metrics: {
      diskRead(bytes: number) {
        io.read += bytes;
        input.onDiskIo?.(bytes, 0);
      },
      diskWrite(bytes: number) {
        io.write += bytes;
        input.onDiskIo?.(0, bytes);
      },
      checksum(status: 'success' | 'failure' | 'skipped') {
        input.onChecksum?.(status);
      },
    },
  };

  // The handler's promise races the abort: a handler that ignores its signal cannot hold the job.
  let handlerSettled = false;
  // Stopped before it began (a cancel or shutdown while the job was being started): the handler
  // is not called at all, so it cannot start work nobody wants.
  const work = abortReason ? Promise.reject(abortReason) : (async () => input.handler.run(ctx))();
  work.then(
    () => (handlerSettled = true),
    () => (handlerSettled = true),
  );
  let output: HandlerResult | undefined;
  let failure: unknown;
  try {
    output = await Promise.race([work, aborted]);
    // A handler that returned after its signal fired still lost the race in spirit: the abort wins.
    if (abortReason) failure = abortReason;
  } catch (err) {
    // When the signal fired, the abort reason is the truth (the handler's AbortError is a symptom).
    failure = abortReason ?? err;
  } finally {
    settled = true;
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
  if (!handlerSettled) {
    const warnTimer = setTimeout(() => {
      if (!handlerSettled) {
        log.warn(
          { handler: input.handler.operation, job_id: input.jobId },
          'handler ignored its abort signal and is still running (a handler bug: it must honour ctx.signal)',
        );
      }
    }, ABANDON_WARN_MS);
    warnTimer.unref();
    work.catch(() => undefined);
  }

  const finishedAt = Date.now();
  const durationSeconds = (finishedAt - startedAt) / 1000;
  const usage = resourceUsage();
  const cpuMicros =
    usage.userCPUTime + usage.systemCPUTime - usageStart.userCPUTime - usageStart.systemCPUTime;
  const summary: ResultDocument['execution_summary'] = {
    started_at: new Date(startedAt).toISOString(),
    duration_seconds: durationSeconds,
    attempt: input.attempt,
  };
  if (input.idempotencyKey !== null) summary.idempotency_key = input.idempotencyKey;
  const metrics = {
    disk_read_bytes: io.read,
    disk_write_bytes: io.write,
    peak_memory_mb: Math.round((usage.maxRSS / 1024) * 10) / 10,
    cpu_seconds: cpuMicros / 1e6,
  };

  if (failure === undefined && output !== undefined) {
    const result: ResultDocument = {
      job_id: input.jobId,
      status: 'completed',
      completed_at: new Date(finishedAt).toISOString(),
      worker_id: input.workerId,
      execution_summary: summary,
      outputs: {
        ...(output.outputs?.primary !== undefined ? { primary: output.outputs.primary } : {}),
        artifacts: output.outputs?.artifacts ?? [],
      },
      metrics,
      data: output.data,
    };
    if (trace) result.observability = trace;
    return { status: 'completed', result, startedAt, durationSeconds, handlerSettled };
  }

  if (failure === undefined) {
    failure = new WorkerError('EXECUTION_ERROR', `Handler ${input.handler.operation} returned no result`);
  }
  const error = toJobError(failure, currentPhase);
  let status: AttemptOutcome['status'] = 'failed';
  if (error.code === 'TIMEOUT' || (error.code === 'DEADLINE_EXCEEDED' && abortReason)) {
    status = 'timeout';
  } else if (error.code === 'CANCELLED') status = 'cancelled';
  else if (abortReason && isShutdown(abortReason)) status = 'interrupted';
  const result: ResultDocument = {
    job_id: input.jobId,
    status: status === 'interrupted' ? 'failed' : status,
    failed_at: new Date(finishedAt).toISOString(),
    worker_id: input.workerId,
    execution_summary: summary,
    error,
    outputs: { artifacts: [] },
    metrics,
  };
  if (trace) result.observability = trace;
  return { status, result, error, startedAt, durationSeconds, handlerSettled };
}

/** The reason the worker uses when it stops running jobs at shutdown. */
export function shutdownReason(): WorkerError {
  return new WorkerError('INTERNAL_ERROR', 'Worker shutting down: the job will run again after restart', {
    recoverable: true,
    details: { shutdown: true },
  });
}

export function cancelReason(jobId: string): WorkerError {
  return new WorkerError('CANCELLED', `Job ${jobId} was cancelled`, { recoverable: false });
}

function isShutdown(reason: unknown): boolean {
  return reason instanceof WorkerError && reason.details?.shutdown === true;
}
