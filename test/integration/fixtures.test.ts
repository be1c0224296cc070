// SLOW (~1 min, three appliance launches under TCG): the real deliverable of the fixture builder
// is images libguestfs inspects correctly, so virt-inspector runs once per OS fixture and every
// fact it can see is compared with the facts the image was built from.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { getFixtures, type Fixture } from '../fixtures/index.js';

const execFileP = promisify(execFile);

const OS_FIXTURES = ['debian-like', 'ubuntu-like', 'rhel-like'] as const;

interface InspectedApp {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
}

interface InspectedOs {
  fields: Record<string, string>;
  mountpoints: Record<string, string>;
  filesystems: Record<string, { type?: string; uuid?: string; label?: string }>;
  apps: InspectedApp[];
}

const tag = (xml: string, name: string): string | undefined =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

/** Just enough of virt-inspector's XML: the one <operatingsystem>, its mounts, fs and applications. */
function parseInspectorXml(xml: string): InspectedOs[] {
  return [...xml.matchAll(/<operatingsystem>([\s\S]*?)<\/operatingsystem>/g)].map(([, os]) => {
    const head = os.split('<mountpoints>')[0];
    const fields: Record<string, string> = {};
    for (const [, k, v] of head.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) fields[k] = v;
    const mountpoints: Record<string, string> = {};
    for (const [, dev, mp] of os.matchAll(/<mountpoint dev="([^"]+)">([^<]*)<\/mountpoint>/g))
      mountpoints[mp] = dev;
    const filesystems: InspectedOs['filesystems'] = {};
    for (const [, dev, body] of os.matchAll(/<filesystem dev="([^"]+)">([\s\S]*?)<\/filesystem>/g))
      filesystems[dev] = { type: tag(body, 'type'), uuid: tag(body, 'uuid'), label: tag(body, 'label') };
    const apps = [...os.matchAll(/<application>([\s\S]*?)<\/application>/g)].map(([, a]) => ({
      name: tag(a, 'name') ?? '',
      epoch: Number(tag(a, 'epoch') ?? 0),
      version: tag(a, 'version') ?? '',
      release: tag(a, 'release') ?? '',
      arch: tag(a, 'arch') ?? '',
    }));
    return { fields, mountpoints, filesystems, apps };
  });
}

async function virtInspector(f: Fixture): Promise<InspectedOs[]> {
  const { stdout } = await execFileP('virt-inspector', [`--format=${f.format}`, '-a', f.path], {
    env: {
      ...process.env,
      LIBGUESTFS_BACKEND: 'direct',
      LIBGUESTFS_BACKEND_SETTINGS: process.env.GUESTKIT_KVM === '1' ? '' : 'force_tcg',
    },
    maxBuffer: 32 * 1024 * 1024,
    timeout: 240_000,
  });
  return parseInspectorXml(stdout);
}

const fixtures: Record<string, Fixture> = {};
const reports: Record<string, InspectedOs[]> = {};

beforeAll(async () => {
  for (const f of await getFixtures(OS_FIXTURES)) fixtures[f.name] = f;
  // One launch at a time: the machine has two cores and other suites launch appliances too.
  for (const name of OS_FIXTURES) reports[name] = await virtInspector(fixtures[name]);
}, 900_000);

describe('virt-inspector recognises the OS fixtures', () => {
  it.each(OS_FIXTURES)('%s: OS identity matches the facts', (name) => {
    const os = fixtures[name].os!;
    expect(reports[name]).toHaveLength(1);
    const { fields } = reports[name][0];
    expect(fields).toMatchObject({
      root: os.root,
      name: os.type,
      arch: os.arch,
      distro: os.distro,
      product_name: os.productName,
      major_version: String(os.majorVersion),
      minor_version: String(os.minorVersion),
      package_format: os.packageFormat,
      package_management: os.packageManagement,
      hostname: os.hostname,
      osinfo: os.osinfo,
    });
  });

  it.each(OS_FIXTURES)('%s: mountpoints and filesystems match the facts', (name) => {
    const os = fixtures[name].os!;
    const report = reports[name][0];
    expect(report.mountpoints).toEqual(os.mountpoints);
    for (const fs of os.filesystems) {
      expect(report.filesystems[fs.device], fs.device).toEqual({
        type: fs.type,
        uuid: fs.uuid,
        label: fs.label,
      });
    }
  });

  it.each(OS_FIXTURES)('%s: every planted package is listed with its exact version', (name) => {
    const os = fixtures[name].os!;
    const want = os.packages
      .map(({ name: n, epoch, version, release, arch }) => ({ name: n, epoch, version, release, arch }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const got = [...reports[name][0].apps].sort((a, b) => a.name.localeCompare(b.name));
    expect(got).toEqual(want);
  });
});
