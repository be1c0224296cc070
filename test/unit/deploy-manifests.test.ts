// The deployment files (deploy/compose.yaml, deploy/kubernetes, deploy/systemd) against the real
// CLI, configuration, routes and metrics: every flag a container passes exists in `daemon`, every
// environment variable is one the worker reads, ports are the configured ones, probes hit routes
// that answer, autoscaling reads a metric the worker exports, and every grace period outlasts the
// drain timeout. `systemd-analyze verify` checks the unit (systemd is a setup package).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { buildApi } from '../../src/api/index.js';
import { registerDaemon } from '../../src/cli/commands/daemon.js';
import { resolveConfig } from '../../src/config.js';
import { METRIC_NAMES, createWorkerMetrics, metricsServer } from '../../src/metrics/index.js';
import { createWorker, type LocalWorker } from '../../src/worker/worker.js';

const ROOT = join(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}
// Overlays hold partial patches: the complete objects are the base's (and the overlays' own).
const k8sFiles = walk(join(DEPLOY, 'kubernetes')).filter(
  (f) => /\.ya?ml$/.test(f) && !/(worker-kvm|prometheus-adapter-rule|kustomization)\.yaml$/.test(f),
);
const k8s: { file: string; doc: Doc }[] = k8sFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    expect(d.errors, file).toEqual([]);
    return { file: relative(ROOT, file), doc: d.toJS() as Doc };
  }),
);
const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as Doc;

function daemonFlags(): Set<string> {
  const program = new Command();
  registerDaemon(program);
  const daemon = program.commands.find((c) => c.name() === 'daemon')!;
  return new Set(daemon.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x)));
}

/** Every source file's text: an env var is real when the worker's code reads it. */
const sources = [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'lib'))]
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');
function envIsRead(name: string): boolean {
  if (/^LIBGUESTFS_/.test(name)) return true; // read by libguestfs itself
  if (name === 'NODE_ENV') return true;
  if (sources.includes(`env.${name}`) || sources.includes(`'${name}'`)) return true;
  // Read by prefix: listen(…, 'GUESTKIT_API') reads `${prefix}_ADDR`.
  const cut = name.lastIndexOf('_');
  return sources.includes(`'${name.slice(0, cut)}'`) && sources.includes(`\${prefix}${name.slice(cut)}`);
}

function drainMs(env: Record<string, string>): number {
  return resolveConfig({}, { ...env, GUESTKIT_API_TOKEN: 't' }).drainTimeoutMs;
}

interface Container {
  where: string;
  args: string[];
  env: Record<string, string>;
  image: string;
}
const configMap = k8s.find((x) => x.doc.kind === 'ConfigMap')!.doc.data as Record<string, string>;
const containers: Container[] = [
  ...k8s
    .filter((x) => x.doc.kind === 'Deployment' || x.doc.kind === 'StatefulSet')
    .flatMap((x) =>
      (x.doc.spec.template.spec.containers as Doc[]).map((c) => ({
        where: `${x.file}:${c.name as string}`,
        args: (c.args ?? []) as string[],
        env: {
          ...(c.envFrom ? configMap : {}),
          ...Object.fromEntries(((c.env ?? []) as Doc[]).map((e) => [e.name, String(e.value ?? 'from-ref')])),
        },
        image: c.image as string,
      })),
    ),
  ...Object.entries(compose.services as Record<string, Doc>).map(([name, s]) => ({
    where: `compose.yaml:${name}`,
    args: (s.command ?? []) as string[],
    env: (s.environment ?? {}) as Record<string, string>,
    image: (s.image ?? '') as string,
  })),
];
const ours = containers.filter((c) => /guestkit-worker/.test(c.image));

let worker: LocalWorker;
beforeAll(async () => {
  worker = createWorker({ store: 'memory', workerId: 'deploy-manifests' });
  await worker.start();
});
afterAll(async () => {
  await worker.stop();
});

describe('deployment manifests', () => {
  it('run our image with flags the daemon has and env vars the worker reads', () => {
    const flags = daemonFlags();
    expect(ours.length).toBeGreaterThanOrEqual(4); // k8s api + worker, compose api + worker
    for (const c of ours) {
      expect(c.args[0], c.where).toBe('daemon');
      for (const a of c.args.filter((x) => x.startsWith('-'))) expect(flags, `${c.where} ${a}`).toContain(a);
      for (const name of Object.keys(c.env)) expect(envIsRead(name), `${c.where} env ${name}`).toBe(true);
      // With the token the API binds where it is told (the bind policy).
      expect(c.env.GUESTKIT_API_TOKEN, c.where).toBeDefined();
    }
  });

  it('use our image as deploy/Containerfile builds it, and pinned third-party images', () => {
    const kustomization = parse(
      readFileSync(join(DEPLOY, 'kubernetes/base/kustomization.yaml'), 'utf8'),
    ) as Doc;
    expect((kustomization.images as Doc[]).map((i) => i.name)).toContain('guestkit-worker');
    expect(compose.services.api.build.dockerfile).toBe('deploy/Containerfile');
    expect(existsSync(join(ROOT, compose.services.api.build.dockerfile as string))).toBe(true);
    for (const c of containers.filter((x) => !/guestkit-worker/.test(x.image))) {
      expect(c.image, c.where).toMatch(/:[\w.-]+$/);
      expect(c.image, c.where).not.toMatch(/:latest$/);
    }
  });

  it('expose the ports the configuration listens on, and probes hit routes that answer', async () => {
    const cfg = resolveConfig({}, { ...configMap, GUESTKIT_API_TOKEN: 't' });
    const ports: Record<string, number> = { http: cfg.api.port, metrics: cfg.metrics.port };
    const app = await buildApi(worker, { token: 't' });
    const metrics = createWorkerMetrics(worker);
    const server = metricsServer(metrics);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const metricsPort = (server.address() as { port: number }).port;
    try {
      for (const x of k8s.filter((d) => d.doc.kind === 'Deployment')) {
        for (const c of x.doc.spec.template.spec.containers as Doc[]) {
          for (const p of c.ports as Doc[])
            expect(p.containerPort, `${x.file} ${p.name}`).toBe(ports[p.name]);
          for (const probe of [c.livenessProbe, c.readinessProbe] as Doc[]) {
            const { path, port } = probe.httpGet as { path: string; port: string };
            const status =
              port === 'http'
                ? (await app.inject({ method: 'GET', url: path })).statusCode
                : (await fetch(`http://127.0.0.1:${metricsPort}${path}`)).status;
            expect(status, `${x.file} ${port}${path}`).toBe(200);
          }
        }
      }
      const composePorts = Object.values(compose.services as Record<string, Doc>)
        .filter((s) => /guestkit-worker/.test((s.image ?? '') as string))
        .flatMap((s) => (s.ports ?? []) as string[]);
      for (const p of composePorts) expect(Number(p.split(':').pop())).toBe(cfg.api.port);
    } finally {
      await app.close();
      metrics.close();
      server.close();
    }
  });

  it('scale workers on a metric the worker exports, and scrape with the shipped rules', () => {
    const scaled = k8s.find((x) => x.doc.kind === 'ScaledObject')!.doc;
    const query = scaled.spec.triggers[0].metadata.query as string;
    const hpa = k8s.find((x) => x.doc.kind === 'HorizontalPodAutoscaler')!.doc;
    const used = [
      ...(query.match(/guestkit_[a-z_]+/g) ?? []),
      hpa.spec.metrics[0].external.metric.name as string,
    ];
    expect(used.length).toBeGreaterThanOrEqual(2);
    for (const m of used) expect(METRIC_NAMES as readonly string[]).toContain(m);
    expect(scaled.spec.scaleTargetRef.name).toBe('guestkit-worker');
    const prom = parse(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')) as Doc;
    expect(prom.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    const mounts = compose.services.prometheus.volumes as string[];
    const rules = mounts.find((v) => v.includes(':/etc/prometheus/alerts.yml'))!.split(':')[0];
    expect(existsSync(join(DEPLOY, rules))).toBe(true);
    const dash = (compose.services.grafana.volumes as string[]).find((v) => v.includes('dashboard'))!;
    expect(existsSync(join(DEPLOY, dash.split(':')[0]))).toBe(true);
  });

  it('give running jobs longer than the drain timeout on every stop path', () => {
    const worker = k8s.find(
      (x) => x.doc.kind === 'Deployment' && x.doc.metadata.name === 'guestkit-worker',
    )!.doc;
    const spec = worker.spec.template.spec as Doc;
    const preStop = (spec.containers[0].lifecycle.preStop.sleep.seconds ?? 0) as number;
    expect(spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs(configMap) + preStop * 1000);
    const grace = Number(/^(\d+)s$/.exec(compose.services.worker.stop_grace_period as string)![1]);
    expect(grace * 1000).toBeGreaterThan(
      drainMs(compose.services.worker.environment as Record<string, string>),
    );
    const unit = readFileSync(join(DEPLOY, 'systemd/guestkit-worker.service'), 'utf8');
    const envFile = Object.fromEntries(
      readFileSync(join(DEPLOY, 'systemd/guestkit-worker.env'), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    for (const name of Object.keys(envFile)) expect(envIsRead(name), `env file ${name}`).toBe(true);
    const stop = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)![1]);
    expect(stop * 1000).toBeGreaterThan(drainMs(envFile));
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
  });

  it('has a systemd unit that systemd-analyze verify accepts', () => {
    const r = spawnSync('systemd-analyze', ['verify', join(DEPLOY, 'systemd/guestkit-worker.service')], {
      encoding: 'utf8',
    });
    expect(r.error).toBeUndefined();
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});
