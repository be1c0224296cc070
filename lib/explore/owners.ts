// uid/gid → names from the guest's own /etc/passwd and /etc/group (read once, bounded).
import type { Guestfs } from '../guestfs.js';
import type { ExploreLayout } from './types.js';

export interface Owners {
  users: Map<number, string>;
  groups: Map<number, string>;
}

const MAX_BYTES = 1024 * 1024;

async function table(g: Guestfs, path: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  try {
    const real = await g.realpath(path);
    const text = (await g.pread(real, MAX_BYTES, 0)).toString('utf8');
    for (const line of text.split('\n')) {
      const [name, , id] = line.split(':');
      const n = Number(id);
      if (name && Number.isInteger(n) && !out.has(n)) out.set(n, name);
    }
  } catch {
    // No such file (a disk without an OS): numbers only.
  }
  return out;
}

export async function loadOwners(g: Guestfs, layout: ExploreLayout): Promise<Owners> {
  if (layout.kind !== 'os') return { users: new Map(), groups: new Map() };
  return { users: await table(g, '/etc/passwd'), groups: await table(g, '/etc/group') };
}
