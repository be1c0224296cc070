// virt-inspector as the oracle of the inspect tests and the anchor of the benchmark. Its XML is
// cached per set of fixture images (the fixture dir names carry the builder hash), so the suite
// runs it once per fixture build, not once per run.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const CACHE = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache', 'virt-inspector');

export interface OracleOs {
  fields: Record<string, string>;
  /** mountpoint → device, devices renamed as if the disk were alone (/dev/sda…). */
  mountpoints: Record<string, string>;
  filesystems: Record<string, { type?: string; uuid?: string; label?: string }>;
  apps: { name: string; epoch: number; version: string; release: string; arch: string }[];
}

const tag = (xml: string, name: string): string | undefined =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

const unescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

/** `/dev/sdc2` of disk 2 → `/dev/sda2`. */
function alone(device: string): string {
  return device.replace(/^\/dev\/sd[a-z]/, '/dev/sda');
}

export function parseInspectorXml(xml: string): OracleOs[] {
  return [...xml.matchAll(/<operatingsystem>([\s\S]*?)<\/operatingsystem>/g)].map(([, os]) => {
    const head = os.split('<mountpoints>')[0];
    const fields: Record<string, string> = {};
    for (const [, k, v] of head.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) fields[k] = unescape(v);
    const mountpoints: Record<string, string> = {};
    for (const [, dev, mp] of os.matchAll(/<mountpoint dev="([^"]+)">([^<]*)<\/mountpoint>/g))
      mountpoints[mp] = alone(dev);
    const filesystems: OracleOs['filesystems'] = {};
    for (const [, dev, body] of os.matchAll(/<filesystem dev="([^"]+)">([\s\S]*?)<\/filesystem>/g))
      filesystems[alone(dev)] = {
        type: tag(body, 'type'),
        uuid: tag(body, 'uuid'),
        label: tag(body, 'label'),
      };
    const apps = [...os.matchAll(/<application>([\s\S]*?)<\/application>/g)].map(([, a]) => ({
      name: unescape(tag(a, 'name') ?? ''),
      epoch: Number(tag(a, 'epoch') ?? 0),
      version: unescape(tag(a, 'version') ?? ''),
      release: unescape(tag(a, 'release') ?? ''),
      arch: tag(a, 'arch') ?? '',
    }));
    return { fields, mountpoints, filesystems, apps };
  });
}

export const VIRT_INSPECTOR_ENV = {
  LIBGUESTFS_BACKEND: 'direct',
  LIBGUESTFS_BACKEND_SETTINGS: process.env.GUESTKIT_KVM === '1' ? '' : 'force_tcg',
};

/** Runs virt-inspector once over one image (one appliance launch); returns its XML. */
export async function runVirtInspector(path: string, format?: string): Promise<string> {
  const { stdout } = await execFileP(
    'virt-inspector',
    [...(format ? [`--format=${format}`] : []), '-a', path],
    {
      env: { ...process.env, ...VIRT_INSPECTOR_ENV },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 600_000,
    },
  );
  return stdout;
}

/**
 * The OSes virt-inspector sees on `path` (root device renamed as if alone), cached by the image's
 * facts.json when it has one (fixture rebuilds with the same facts keep the cache), else by path.
 */
export async function oracle(path: string, format?: string): Promise<OracleOs[]> {
  const facts = await readFile(join(dirname(path), 'facts.json'), 'utf8').catch(() => `${dirname(path)}`);
  const key = createHash('sha256')
    .update(basename(path))
    .update('\0')
    .update(facts)
    .digest('hex')
    .slice(0, 16);
  const file = join(CACHE, `${basename(path)}-${key}.xml`);
  let xml: string;
  try {
    xml = await readFile(file, 'utf8');
  } catch {
    xml = await runVirtInspector(path, format);
    await mkdir(CACHE, { recursive: true });
    await writeFile(`${file}.tmp`, xml);
    await rename(`${file}.tmp`, file);
  }
  return parseInspectorXml(xml).map((os) => ({
    ...os,
    fields: { ...os.fields, root: alone(os.fields.root ?? '') },
  }));
}
