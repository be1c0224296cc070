// The worker registration document (protocol §6) and the constraint check against it. Disk
// formats and features are probed from the machine, asynchronously, once (cached).
import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { freemem, hostname, totalmem } from 'node:os';
import { cpuCores, type WorkerConfig } from '../config.js';
import { WorkerError } from '../protocol/errors.js';
import type { JobEnvelope, WorkerRegistration, WorkerState } from '../protocol/schema.js';
import { imageFormats, libguestfsFeatureProbe } from './features.js';

/**
 * Returns feature names this machine offers (e.g. libguestfs `available()` groups); gets the
 * probed disk formats, which some features depend on.
 */
export type FeatureProbe = (probed: { disk_formats: readonly string[] }) => Promise<string[]>;

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

/** `qemu-img --help` ends with "Supported formats: a b c". */
export function parseQemuImgFormats(help: string): string[] {
  const m = /Supported formats:\s*([^\n]*)/.exec(help);
  return m ? [...new Set(m[1].trim().split(/\s+/).filter(Boolean))].sort() : [];
}

/** The disk image formats qemu-img opens (its block drivers less protocols, filters and test drivers). */
export async function probeDiskFormats(qemuImg = 'qemu-img'): Promise<string[]> {
  try {
    return imageFormats(parseQemuImgFormats(await run(qemuImg, ['--help'])));
  } catch {
    return [];
  }
}

/** Numeric semver compare on major.minor.patch (pre-release tags sort before the release). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre] = v.trim().replace(/^v/, '').split('-', 2);
    const nums = core
      .split('+')[0]
      .split('.')
      .map((n) => Number(n) || 0);
    return { nums: [nums[0] ?? 0, nums[1] ?? 0, nums[2] ?? 0], pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return x.nums[i] - y.nums[i];
  if (x.pre && !y.pre) return -1;
  if (!x.pre && y.pre) return 1;
  return 0;
}

export interface ProbedCapabilities {
  features: string[];
  disk_formats: string[];
}

export class CapabilityProbe {
  private cached: Promise<ProbedCapabilities> | undefined;

  /** Default probes: the libguestfs groups under the original worker's feature names. */
  constructor(private readonly featureProbes: readonly FeatureProbe[] = [libguestfsFeatureProbe]) {}

  /** Probes once; later calls get the cached answer. */
  get(): Promise<ProbedCapabilities> {
    this.cached ??= (async () => {
      const formats = await probeDiskFormats();
      const features = await Promise.all(
        this.featureProbes.map((p) => p({ disk_formats: formats }).catch(() => [] as string[])),
      );
      return { disk_formats: formats, features: [...new Set(features.flat())].sort() };
    })();
    return this.cached;
  }
}

export interface RegistrationInput {
  config: Readonly<WorkerConfig>;
  operations: string[];
  probed: ProbedCapabilities;
  registeredAt: string;
  state: WorkerState;
  currentJobs: number;
}

export async function buildRegistration(input: RegistrationInput): Promise<WorkerRegistration> {
  const { config } = input;
  let availableGb = 0;
  try {
    const fs = await statfs(config.workDir).catch(() => statfs(process.cwd()));
    availableGb = Math.round(((fs.bavail * fs.bsize) / 1024 ** 3) * 10) / 10;
  } catch {
    // Unknown: report 0.
  }
  return {
    worker_id: config.workerId,
    version: config.version,
    hostname: hostname(),
    registered_at: input.registeredAt,
    capabilities: {
      operations: input.operations,
      features: input.probed.features,
      disk_formats: input.probed.disk_formats,
    },
    resources: {
      max_concurrent_jobs: config.maxConcurrent,
      max_disk_size_gb: config.maxDiskSizeGb,
      available_disk_gb: availableGb,
      cpu_cores: cpuCores(),
      memory_gb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    },
    configuration: {
      privileged: config.privileged,
      worker_pool: config.pool,
      data_locality: config.dataLocality,
    },
    status: { state: input.state, current_jobs: input.currentJobs, last_heartbeat: new Date().toISOString() },
  };
}

/** Free memory in GB (health checks). */
export function freeMemoryGb(): number {
  return freemem() / 1024 ** 3;
}

/**
 * Throws CAPABILITY_MISMATCH naming everything the job needs that this worker lacks
 * (constraints, routing pool, the handler's own requirements).
 */
export function checkConstraints(
  job: JobEnvelope,
  reg: Pick<WorkerRegistration, 'capabilities' | 'version'>,
  config: Readonly<WorkerConfig>,
  handlerRequires: readonly string[] = [],
): void {
  const c = job.constraints ?? {};
  const have = new Set([
    ...reg.capabilities.operations,
    ...reg.capabilities.features,
    ...reg.capabilities.disk_formats,
  ]);
  const features = new Set(reg.capabilities.features);
  const problems: string[] = [];
  const missingCaps = (c.required_capabilities ?? []).filter((x) => !have.has(x));
  if (missingCaps.length) problems.push(`capabilities [${missingCaps.join(', ')}]`);
  const missingFeatures = (c.required_features ?? []).filter((x) => !features.has(x));
  if (missingFeatures.length) problems.push(`features [${missingFeatures.join(', ')}]`);
  const missingHandler = handlerRequires.filter((x) => !have.has(x));
  if (missingHandler.length) problems.push(`handler requirements [${missingHandler.join(', ')}]`);
  if (c.minimum_worker_version && compareVersions(reg.version, c.minimum_worker_version) < 0) {
    problems.push(`worker version ${c.minimum_worker_version} or later (this worker is ${reg.version})`);
  }
  if (c.maximum_disk_size_gb !== undefined && c.maximum_disk_size_gb > config.maxDiskSizeGb) {
    problems.push(`disks up to ${c.maximum_disk_size_gb} GB (this worker allows ${config.maxDiskSizeGb} GB)`);
  }
  if (c.require_privileged && !config.privileged) problems.push('a privileged worker');
  if (
    c.allowed_worker_pools &&
    c.allowed_worker_pools.length &&
    !c.allowed_worker_pools.includes(config.pool)
  ) {
    problems.push(
      `a worker in pool [${c.allowed_worker_pools.join(', ')}] (this worker is in '${config.pool}')`,
    );
  }
  const pool = job.routing?.worker_pool;
  if (pool && pool !== config.pool)
    problems.push(`worker pool '${pool}' (this worker is in '${config.pool}')`);
  if (problems.length) {
    throw new WorkerError(
      'CAPABILITY_MISMATCH',
      `Worker ${config.workerId} is missing: ${problems.join('; ')}`,
      {
        phase: 'validation',
        details: {
          missing_capabilities: missingCaps,
          missing_features: missingFeatures,
          missing_handler_requirements: missingHandler,
          problems,
        },
      },
    );
  }
}
