// guestkit.inspect in the terminal: what the OS is, how many packages (and the first ones), what
// starts at boot, who can log in, the network, and the quick security findings the dashboard shows.
import type {
  InspectResultData,
  InspectionReport,
  OperatingSystemInfo,
} from '../../handlers/inspect/report.js';
import { securityFindings, SEVERITY_ORDER } from '../../report/findings.js';
import { osVersion } from '../../report/os-version.js';
import { bytes, columns, heading, Paint, rows, top, type RenderOptions } from './text.js';

/** `Ubuntu 22.04.3 LTS (ubuntu 22.04, x86_64)`. */
export function osLine(os: OperatingSystemInfo): string {
  const version = osVersion(os);
  const name = os.product_name && os.product_name !== 'unknown' ? os.product_name : os.distribution;
  return `${name} (${[os.distribution, version].filter(Boolean).join(' ')}, ${os.arch})`;
}

function packageVersion(p: { epoch: number; version: string; release: string }): string {
  return `${p.epoch ? `${p.epoch}:` : ''}${p.version}${p.release ? `-${p.release}` : ''}`;
}

function imageLine(r: InspectionReport): string {
  const parts = [r.image.format, `${bytes(r.image.virtual_size_bytes)} virtual`];
  if (r.image.size_bytes) parts.push(`${bytes(r.image.size_bytes)} on disk`);
  if (r.image.checksum) parts.push('checksum verified');
  return `${r.image.path} (${parts.join(', ')})`;
}

function network(r: InspectionReport): string | undefined {
  const n = r.network;
  if (!n) return undefined;
  const ifaces = n.interfaces.map(
    (i) => `${i.name} ${i.dhcp ? 'dhcp' : i.addresses.join(' ') || 'no address'} (${i.config_source})`,
  );
  const parts = [ifaces.join(', ') || 'no interfaces configured'];
  if (n.dns_servers.length) parts.push(`dns ${n.dns_servers.join(' ')}`);
  if (n.gateway) parts.push(`gateway ${n.gateway}`);
  return parts.join('; ');
}

/** The report of one inspected image. */
export function renderInspectReport(r: InspectionReport, o: RenderOptions = {}): string {
  const p = new Paint(o.color ?? false);
  const os = r.operating_system;
  const out: string[] = [`${p.bold(os.hostname || '(no hostname)')}  ${osLine(os)}`];
  const pkgs = r.packages;
  const svc = r.services;
  const users = r.users;
  const logins = users?.accounts.filter((a) => a.login) ?? [];
  out.push(
    rows([
      ['image', imageLine(r)],
      [
        'root',
        `${os.root}  mounts: ${Object.entries(r.mountpoints)
          .map(([m, d]) => `${m}=${d}`)
          .join(' ')}`,
      ],
      ['kernel', r.kernels.default ?? (r.kernels.installed.join(', ') || '-')],
      ['packages', pkgs ? `${pkgs.count} (${os.package_format}/${os.package_management})` : undefined],
      ['services', svc ? `${svc.enabled.length} enabled of ${svc.count}` : undefined],
      ['users', users ? `${users.count} accounts, ${users.login_count} can log in` : undefined],
      ['network', network(r)],
      [
        'databases',
        r.databases?.length
          ? r.databases.map((d) => `${d.engine} ${d.version ?? ''}`.trim()).join(', ')
          : undefined,
      ],
    ]),
  );
  if (r.operating_systems && r.operating_systems.length > 1) {
    out.push(heading(p, `Operating systems (${r.operating_systems.length} roots)`));
    out.push(
      columns(
        ['ROOT', 'HOSTNAME', 'OS'],
        r.operating_systems.map((o2) => [o2.root, o2.hostname || '-', osLine(o2)]),
        '  ',
      ),
    );
  }
  if (pkgs && pkgs.packages.length) {
    const { shown, more } = top(pkgs.packages, 10, o.full);
    out.push(heading(p, `Packages (${pkgs.count})`));
    out.push(
      columns(
        ['NAME', 'VERSION', 'ARCH'],
        shown.map((k) => [k.name, packageVersion(k), k.arch]),
        '  ',
      ),
    );
    if (more) out.push(`  ${p.dim(more)}`);
  }
  if (svc && svc.enabled.length) {
    const { shown, more } = top(svc.enabled, 12, o.full);
    out.push(heading(p, `Enabled services (${svc.enabled.length})`));
    out.push(`  ${shown.join(', ')}`);
    if (more) out.push(`  ${p.dim(more)}`);
  }
  if (users) {
    out.push(heading(p, `Users who can log in (${logins.length})`));
    out.push(
      logins.length
        ? columns(
            ['NAME', 'UID', 'SHELL', 'HOME'],
            logins.map((a) => [a.name, String(a.uid), a.shell, a.home]),
            '  ',
          )
        : '  none',
    );
  }
  if (r.security) {
    const findings = securityFindings(r).sort(
      (a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity),
    );
    out.push(heading(p, 'Security findings'));
    out.push(
      columns(
        ['SEVERITY', 'FINDING'],
        findings.map((f) => [p.level(f.severity), `${f.title}: ${f.description}`]),
        '  ',
      ),
    );
  }
  if (r.warnings.length) {
    out.push(heading(p, 'Warnings'));
    for (const w of r.warnings) out.push(`  ${w}`);
  }
  return out.join('\n') + '\n';
}

export function renderInspect(data: InspectResultData, o: RenderOptions = {}): string {
  const extra = data.output_file ? `\nreport written to ${data.output_file}\n` : '';
  return renderInspectReport(data.report, o) + extra;
}
