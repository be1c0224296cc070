// Services: systemd unit files and their enablement links (*.wants / *.requires, incl. sockets
// and timers), masks, and SysV init scripts with their rc?.d start links.
import type { Guestfs } from '../../../../lib/guestfs.js';
import type { ServiceUnit, ServicesInfo } from '../report.js';
import { listDirs } from '../guest.js';

const UNIT_DIRS = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];
const REPORTED_TYPES = new Set(['service', 'socket', 'timer', 'path']);
const SYSV_DIRS = ['/etc/init.d', '/etc/rc.d/init.d'];
/** Multi-user runlevels: a start link in any of them enables the script. */
const RUNLEVELS = ['2', '3', '4', '5'];

function unitType(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

export async function collectServices(g: Guestfs): Promise<ServicesInfo> {
  const dirs = await listDirs(g, [
    ...UNIT_DIRS,
    ...SYSV_DIRS,
    ...RUNLEVELS.flatMap((l) => [`/etc/rc${l}.d`, `/etc/rc.d/rc${l}.d`]),
  ]);
  const etc = dirs.get('/etc/systemd/system') ?? [];
  const wantsDirs = etc.filter((n) => n.endsWith('.wants') || n.endsWith('.requires'));
  const wanted = await listDirs(
    g,
    wantsDirs.map((d) => `/etc/systemd/system/${d}`),
  );
  // Links directly in /etc/systemd/system: a link to /dev/null masks the unit.
  const etcUnits = etc.filter((n) => REPORTED_TYPES.has(unitType(n)));
  const etcTargets = etcUnits.length
    ? await g.readlinklist('/etc/systemd/system', etcUnits).catch(() => etcUnits.map(() => ''))
    : [];
  const masked = new Set(etcUnits.filter((_, i) => etcTargets[i] === '/dev/null'));

  const units = new Map<string, ServiceUnit>();
  for (const dir of [...UNIT_DIRS].reverse()) {
    for (const name of dirs.get(dir) ?? []) {
      const type = unitType(name);
      if (!REPORTED_TYPES.has(type) || masked.has(name) || name.endsWith('@')) continue;
      units.set(name, { name, kind: 'systemd', type, enabled: false, wanted_by: [], path: `${dir}/${name}` });
    }
  }
  for (const wd of wantsDirs) {
    const by = wd.replace(/\.(wants|requires)$/, '');
    for (const name of wanted.get(`/etc/systemd/system/${wd}`) ?? []) {
      const type = unitType(name);
      if (!REPORTED_TYPES.has(type) || masked.has(name)) continue;
      const u = units.get(name) ?? {
        name,
        kind: 'systemd' as const,
        type,
        enabled: false,
        wanted_by: [],
        path: '',
      };
      u.enabled = true;
      if (!u.wanted_by.includes(by)) u.wanted_by.push(by);
      units.set(name, u);
    }
  }

  // SysV: scripts in init.d, enabled by an S?? link in a multi-user runlevel; a systemd unit of
  // the same name wins (systemd ignores the script then).
  const sysvDir = SYSV_DIRS.find((d) => (dirs.get(d) ?? []).length > 0);
  if (sysvDir) {
    for (const script of dirs.get(sysvDir) ?? []) {
      if (script.startsWith('.') || script === 'README' || script === 'functions') continue;
      if (units.has(`${script}.service`)) continue;
      const wantedBy: string[] = [];
      for (const l of RUNLEVELS) {
        for (const rc of [`/etc/rc${l}.d`, `/etc/rc.d/rc${l}.d`]) {
          if ((dirs.get(rc) ?? []).some((n) => /^S\d+/.test(n) && n.replace(/^S\d+/, '') === script)) {
            wantedBy.push(`rc${l}.d`);
          }
        }
      }
      units.set(script, {
        name: script,
        kind: 'sysv',
        type: 'service',
        enabled: wantedBy.length > 0,
        wanted_by: [...new Set(wantedBy)],
        path: `${sysvDir}/${script}`,
      });
    }
  }
  const list = [...units.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    count: list.length,
    enabled: list.filter((u) => u.enabled).map((u) => u.name),
    units: list,
  };
}
