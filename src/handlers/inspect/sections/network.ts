// Network configuration as the guest would apply it: netplan, ifupdown, NetworkManager keyfiles,
// RHEL ifcfg files and systemd-networkd; DNS from resolv.conf and those configs.
import { parse as parseYaml } from 'yaml';
import type { Guestfs } from '../../../../lib/guestfs.js';
import type { NetworkInfo, NetworkInterface } from '../report.js';
import { listDirs, meaningfulLines, parseIni, parseKeyValues, readFiles } from '../guest.js';

const DIRS = {
  netplan: '/etc/netplan',
  ifupdownD: '/etc/network/interfaces.d',
  nm: '/etc/NetworkManager/system-connections',
  ifcfg: '/etc/sysconfig/network-scripts',
  networkd: '/etc/systemd/network',
};

interface Parsed {
  interfaces: NetworkInterface[];
  dns: string[];
  gateways: string[];
}

function netmaskToPrefix(mask: string): number {
  return mask
    .split('.')
    .map(Number)
    .reduce((n, o) => n + (o >>> 0).toString(2).replace(/0/g, '').length, 0);
}

function withPrefix(address: string, prefix?: string | number): string {
  if (address.includes('/') || prefix === undefined || prefix === '') return address;
  return `${address}/${typeof prefix === 'number' || /^\d+$/.test(prefix) ? prefix : netmaskToPrefix(prefix)}`;
}

type YamlMap = Record<string, unknown>;
const asMap = (v: unknown): YamlMap =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as YamlMap) : {};
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function parseNetplan(file: string, text: string, out: Parsed): void {
  const network = asMap(asMap(parseYaml(text) as unknown).network);
  for (const kind of ['ethernets', 'bonds', 'bridges', 'vlans', 'wifis']) {
    for (const [name, raw] of Object.entries(asMap(network[kind]))) {
      const cfg = asMap(raw);
      const dhcp = cfg.dhcp4 === true || cfg.dhcp4 === 'yes' || cfg.dhcp6 === true || cfg.dhcp6 === 'yes';
      const addresses = asList(cfg.addresses).map((a) =>
        typeof a === 'string' ? a : Object.keys(asMap(a))[0],
      );
      out.interfaces.push({ name, config_source: 'netplan', addresses, dhcp, file });
      if (typeof cfg.gateway4 === 'string') out.gateways.push(cfg.gateway4);
      for (const r of asList(cfg.routes)) {
        const route = asMap(r);
        if ((route.to === 'default' || route.to === '0.0.0.0/0') && typeof route.via === 'string')
          out.gateways.push(route.via);
      }
      out.dns.push(...asList(asMap(cfg.nameservers).addresses).map(String));
    }
  }
}

export function parseIfupdown(file: string, text: string, out: Parsed): void {
  let current: NetworkInterface | undefined;
  let mask: string | undefined;
  const finish = () => {
    if (current && mask) current.addresses = current.addresses.map((a) => withPrefix(a, mask));
    mask = undefined;
  };
  for (const line of meaningfulLines(text)) {
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'iface') {
      finish();
      const [name, , method] = rest;
      current = undefined;
      if (name === 'lo') continue;
      const existing = out.interfaces.find((i) => i.name === name && i.config_source === 'ifupdown');
      current = existing ?? { name, config_source: 'ifupdown', addresses: [], dhcp: false, file };
      if (!existing) out.interfaces.push(current);
      if (method === 'dhcp') current.dhcp = true;
    } else if (current) {
      if (key === 'address') current.addresses.push(rest[0]);
      else if (key === 'netmask') mask = rest[0];
      else if (key === 'gateway') out.gateways.push(rest[0]);
      else if (key === 'dns-nameservers') out.dns.push(...rest);
    }
    if (key === 'auto' || key === 'allow-hotplug' || key === 'mapping' || key === 'source') {
      finish();
      current = undefined;
    }
  }
  finish();
}

export function parseNmKeyfile(file: string, text: string, out: Parsed): void {
  const ini = parseIni(text);
  const conn = ini.get('connection') ?? new Map<string, string>();
  const type = conn.get('type') ?? '';
  if (type === 'loopback') return;
  const ipv4 = ini.get('ipv4') ?? new Map<string, string>();
  const addresses: string[] = [];
  for (const [k, v] of ipv4) {
    if (/^address(es)?\d*$/.test(k)) {
      const [addr, gw] = v.split(',');
      for (const a of addr.split(';').filter(Boolean)) addresses.push(a.trim());
      if (gw) out.gateways.push(gw.trim());
    }
  }
  if (ipv4.get('gateway')) out.gateways.push(ipv4.get('gateway')!);
  out.dns.push(...(ipv4.get('dns') ?? '').split(/[;,]/).filter(Boolean));
  out.interfaces.push({
    name: conn.get('interface-name') ?? conn.get('id') ?? file.split('/').pop()!,
    config_source: 'networkmanager',
    addresses,
    dhcp: (ipv4.get('method') ?? 'auto') === 'auto',
    file,
  });
}

export function parseIfcfg(file: string, text: string, out: Parsed): void {
  const kv = parseKeyValues(text);
  const name = kv.DEVICE ?? kv.NAME ?? file.replace(/^.*ifcfg-/, '');
  if (name === 'lo') return;
  const addresses: string[] = [];
  for (const [k, v] of Object.entries(kv)) {
    const m = /^IPADDR(\d*)$/.exec(k);
    if (m) addresses.push(withPrefix(v, kv[`PREFIX${m[1]}`] ?? kv[`NETMASK${m[1]}`]));
  }
  if (kv.GATEWAY) out.gateways.push(kv.GATEWAY);
  for (const [k, v] of Object.entries(kv)) if (/^DNS\d+$/.test(k)) out.dns.push(v);
  const proto = (kv.BOOTPROTO ?? 'none').toLowerCase();
  out.interfaces.push({
    name,
    config_source: 'ifcfg',
    addresses,
    dhcp: proto === 'dhcp' || proto === 'bootp',
    file,
  });
}

export function parseNetworkd(file: string, text: string, out: Parsed): void {
  const ini = parseIni(text);
  const match = ini.get('Match') ?? new Map<string, string>();
  const net = ini.get('Network') ?? new Map<string, string>();
  const addresses = [net.get('Address'), ini.get('Address')?.get('Address')].filter((a): a is string => !!a);
  if (net.get('Gateway')) out.gateways.push(net.get('Gateway')!);
  out.dns.push(...(net.get('DNS') ?? '').split(/\s+/).filter(Boolean));
  out.interfaces.push({
    name:
      match.get('Name') ??
      file
        .split('/')
        .pop()!
        .replace(/\.network$/, ''),
    config_source: 'systemd-networkd',
    addresses,
    dhcp: /^(yes|true|ipv4|ipv6)$/i.test(net.get('DHCP') ?? ''),
    file,
  });
}

export async function collectNetwork(
  g: Guestfs,
  inspectedHostname: string,
  warnings: string[],
): Promise<NetworkInfo> {
  const dirs = await listDirs(g, Object.values(DIRS));
  const files = [
    '/etc/hostname',
    '/etc/resolv.conf',
    '/etc/network/interfaces',
    '/etc/sysconfig/network',
    ...(dirs.get(DIRS.netplan) ?? []).filter((n) => /\.ya?ml$/.test(n)).map((n) => `${DIRS.netplan}/${n}`),
    ...(dirs.get(DIRS.ifupdownD) ?? []).map((n) => `${DIRS.ifupdownD}/${n}`),
    ...(dirs.get(DIRS.nm) ?? []).map((n) => `${DIRS.nm}/${n}`),
    ...(dirs.get(DIRS.ifcfg) ?? []).filter((n) => n.startsWith('ifcfg-')).map((n) => `${DIRS.ifcfg}/${n}`),
    ...(dirs.get(DIRS.networkd) ?? [])
      .filter((n) => n.endsWith('.network'))
      .map((n) => `${DIRS.networkd}/${n}`),
  ];
  const text = await readFiles(g, files);
  const out: Parsed = { interfaces: [], dns: [], gateways: [] };
  for (const [file, content] of text) {
    if (content === null) continue;
    try {
      if (file.startsWith(DIRS.netplan)) parseNetplan(file, content, out);
      else if (file === '/etc/network/interfaces' || file.startsWith(DIRS.ifupdownD))
        parseIfupdown(file, content, out);
      else if (file.startsWith(DIRS.nm)) parseNmKeyfile(file, content, out);
      else if (file.startsWith(DIRS.ifcfg)) parseIfcfg(file, content, out);
      else if (file.startsWith(DIRS.networkd)) parseNetworkd(file, content, out);
    } catch (err) {
      warnings.push(`network: cannot parse ${file}: ${(err as Error).message}`);
    }
  }
  const resolv = meaningfulLines(text.get('/etc/resolv.conf'))
    .map((l) => /^nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((s): s is string => !!s);
  const sysconfig = parseKeyValues(text.get('/etc/sysconfig/network'));
  if (sysconfig.GATEWAY) out.gateways.push(sysconfig.GATEWAY);
  const hostname =
    meaningfulLines(text.get('/etc/hostname'))[0] ?? sysconfig.HOSTNAME ?? (inspectedHostname || 'unknown');
  return {
    hostname,
    interfaces: out.interfaces,
    dns_servers: [...new Set([...resolv, ...out.dns])],
    gateway: out.gateways[0] ?? null,
  };
}
