// The inspect collectors' parsing, on guest-shaped text: accounts, network configs of every
// flavour, sshd semantics, fstab, versions, device aliasing, and the /etc tar snapshot (built
// with the host's GNU tar, as the appliance's tar_out does). No appliance here.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deviceAliaser } from '../../src/handlers/inspect/collect.js';
import { GuestSnapshot, parseTar, snapshotView } from '../../src/handlers/inspect/etc-snapshot.js';
import { parseIni, parseKeyValues } from '../../src/handlers/inspect/guest.js';
import {
  parseIfcfg,
  parseIfupdown,
  parseNetplan,
  parseNetworkd,
  parseNmKeyfile,
} from '../../src/handlers/inspect/sections/network.js';
import { effectiveSshd } from '../../src/handlers/inspect/sections/security.js';
import { compareVersions } from '../../src/handlers/inspect/sections/software.js';
import { parseFstab } from '../../src/handlers/inspect/sections/storage.js';
import { parseUsers, uidMin } from '../../src/handlers/inspect/sections/users.js';
import type { Guestfs } from '../../lib/guestfs.js';

const execFileP = promisify(execFile);
const parsed = () => ({ interfaces: [], dns: [] as string[], gateways: [] as string[] });

describe('accounts', () => {
  const passwd = [
    'root:x:0:0:root:/root:/bin/bash',
    'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
    'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
    'bob:x:1001:1001::/home/bob:/bin/bash',
    'guest:x:1002:1002::/home/guest:/bin/sh',
    'toor:x:0:0::/root:/bin/bash',
    'nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin',
  ].join('\n');
  const shadow = 'root:$6$x:1::::::\nalice:$6$y:1::::::\nbob:!:1::::::\nguest::1::::::\ndaemon:*:1::::::\n';
  const group = 'root:x:0:\nsudo:x:27:alice,bob\nalice:x:1000:\n';

  it('derives login, locked, empty password and system from passwd/shadow/login.defs', () => {
    const u = parseUsers({ passwd, shadow, group, loginDefs: 'UID_MIN 1000\n' });
    const by = Object.fromEntries(u.accounts.map((a) => [a.name, a]));
    expect(u.count).toBe(7);
    expect(by.root).toMatchObject({ uid: 0, login: true, locked: false, system: true, groups: ['root'] });
    expect(by.daemon).toMatchObject({ login: false, locked: true, system: true });
    expect(by.alice).toMatchObject({ login: true, system: false, groups: ['alice', 'sudo'] });
    expect(by.bob).toMatchObject({ login: false, locked: true });
    expect(by.guest).toMatchObject({ login: true, empty_password: true });
    expect(by.toor.uid).toBe(0);
    expect(by.nobody.system).toBe(true);
    expect(u.login_count).toBe(4); // root, alice, guest, toor
  });

  it('reads UID_MIN, defaulting to 1000', () => {
    expect(uidMin('# c\nUID_MIN\t500\n')).toBe(500);
    expect(uidMin(null)).toBe(1000);
  });
});

describe('network configurations', () => {
  it('netplan: dhcp, static addresses, default routes, nameservers', () => {
    const out = parsed();
    parseNetplan(
      '/etc/netplan/50.yaml',
      'network:\n  version: 2\n  ethernets:\n    ens3:\n      dhcp4: true\n    ens4:\n      addresses: [10.1.0.5/24]\n' +
        '      routes:\n        - to: default\n          via: 10.1.0.1\n      nameservers:\n        addresses: [9.9.9.9]\n',
      out,
    );
    expect(out.interfaces).toMatchObject([
      { name: 'ens3', dhcp: true, addresses: [], config_source: 'netplan' },
      { name: 'ens4', dhcp: false, addresses: ['10.1.0.5/24'] },
    ]);
    expect(out.gateways).toEqual(['10.1.0.1']);
    expect(out.dns).toEqual(['9.9.9.9']);
  });

  it('ifupdown: static with netmask, dhcp, loopback ignored', () => {
    const out = parsed();
    parseIfupdown(
      '/etc/network/interfaces',
      'auto lo\niface lo inet loopback\nauto ens3\niface ens3 inet static\n  address 192.168.1.5\n  netmask 255.255.255.0\n' +
        '  gateway 192.168.1.1\n  dns-nameservers 1.1.1.1 8.8.8.8\niface ens4 inet dhcp\n',
      out,
    );
    expect(out.interfaces).toMatchObject([
      { name: 'ens3', addresses: ['192.168.1.5/24'], dhcp: false },
      { name: 'ens4', addresses: [], dhcp: true },
    ]);
    expect(out.gateways).toEqual(['192.168.1.1']);
    expect(out.dns).toEqual(['1.1.1.1', '8.8.8.8']);
  });

  it('NetworkManager keyfile, ifcfg and systemd-networkd', () => {
    const out = parsed();
    parseNmKeyfile(
      '/etc/NetworkManager/system-connections/eth0.nmconnection',
      '[connection]\nid=Wired\ninterface-name=eth0\ntype=ethernet\n[ipv4]\nmethod=manual\naddress1=10.0.0.9/24,10.0.0.1\ndns=10.0.0.2;\n',
      out,
    );
    parseIfcfg(
      '/etc/sysconfig/network-scripts/ifcfg-eth1',
      'DEVICE=eth1\nBOOTPROTO=none\nIPADDR=10.0.1.20\nNETMASK=255.255.0.0\nGATEWAY=10.0.1.1\nDNS1=10.0.1.2\n',
      out,
    );
    parseIfcfg('/etc/sysconfig/network-scripts/ifcfg-eth2', 'DEVICE="eth2"\nBOOTPROTO=dhcp\n', out);
    parseNetworkd('/etc/systemd/network/10-en.network', '[Match]\nName=enp1s0\n[Network]\nDHCP=yes\n', out);
    expect(out.interfaces).toMatchObject([
      { name: 'eth0', config_source: 'networkmanager', addresses: ['10.0.0.9/24'], dhcp: false },
      { name: 'eth1', config_source: 'ifcfg', addresses: ['10.0.1.20/16'], dhcp: false },
      { name: 'eth2', config_source: 'ifcfg', dhcp: true },
      { name: 'enp1s0', config_source: 'systemd-networkd', dhcp: true },
    ]);
    expect(out.gateways).toEqual(['10.0.0.1', '10.0.1.1']);
    expect(out.dns).toEqual(['10.0.0.2', '10.0.1.2']);
  });

  it('key=value and ini helpers strip quotes and comments', () => {
    expect(parseKeyValues('# c\nA="x y"\nexport B=\'z\'\nbad line\n')).toEqual({ A: 'x y', B: 'z' });
    expect(parseIni('[mysqld]\ndatadir = /var/lib/mysql\n; c\n').get('mysqld')?.get('datadir')).toBe(
      '/var/lib/mysql',
    );
  });
});

describe('sshd_config semantics', () => {
  it('first value wins, Include is read in place, Match blocks are not defaults', () => {
    const main =
      'Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\n' +
      'Match User bob\n  PasswordAuthentication no\n';
    const includes = new Map<string, string | null>([
      ['/etc/ssh/sshd_config.d/10-hard.conf', 'permitrootlogin no\n'],
      ['/etc/ssh/other.conf', 'PasswordAuthentication no\n'],
    ]);
    const v = effectiveSshd(main, includes);
    expect(v.get('permitrootlogin')).toBe('no');
    expect(v.get('passwordauthentication')).toBe('yes');
  });
});

describe('small helpers', () => {
  it('parses fstab lines', () => {
    expect(parseFstab('# x\nUUID=1 / ext4 defaults 0 1\n/dev/sdb1\t/data xfs noatime\nbroken\n')).toEqual([
      { spec: 'UUID=1', mountpoint: '/', type: 'ext4', options: 'defaults' },
      { spec: '/dev/sdb1', mountpoint: '/data', type: 'xfs', options: 'noatime' },
    ]);
  });

  it('orders kernel versions numerically', () => {
    expect(['5.15.0-91-generic', '5.4.0-1', '5.15.0-101-generic'].sort(compareVersions)).toEqual([
      '5.4.0-1',
      '5.15.0-91-generic',
      '5.15.0-101-generic',
    ]);
  });

  it('renames lease devices as if each image were alone', () => {
    const alias = deviceAliaser(['/dev/sdc', '/dev/sdf']);
    expect(alias('/dev/sdc1')).toBe('/dev/sda1');
    expect(alias('/dev/sdc')).toBe('/dev/sda');
    expect(alias('/dev/sdf2')).toBe('/dev/sdb2');
    expect(alias('btrfsvol:/dev/sdc2/@')).toBe('btrfsvol:/dev/sda2/@');
    expect(alias('/dev/rl/root')).toBe('/dev/rl/root');
    expect(alias('/dev/sdd1')).toBe('/dev/sdd1');
  });
});

describe('/etc snapshot', () => {
  it('parses GNU tar with long names and symlinks, and answers reads, listings and links', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gk-etc-'));
    try {
      const etc = join(dir, 'etc');
      const long = 'd'.repeat(120);
      await mkdir(join(etc, 'systemd/system/multi-user.target.wants'), { recursive: true });
      await mkdir(join(etc, long), { recursive: true });
      await writeFile(join(etc, 'passwd'), 'root:x:0:0::/root:/bin/bash\n');
      await writeFile(join(etc, long, 'f.conf'), 'deep\n');
      await symlink(
        '/lib/systemd/system/ssh.service',
        join(etc, 'systemd/system/multi-user.target.wants/ssh.service'),
      );
      await symlink('passwd', join(etc, 'passwd.link'));
      await symlink('../usr/lib/os-release', join(etc, 'os-release'));
      await execFileP('tar', ['-C', etc, '-cf', join(dir, 'etc.tar'), '--numeric-owner', '.']);
      const snap = new GuestSnapshot('/etc', parseTar(await readFile(join(dir, 'etc.tar')), '/etc'));
      const fallback: string[] = [];
      const g = {
        readFile: async (p: string) => {
          fallback.push(p);
          return Buffer.from('NAME=x\n');
        },
      } as unknown as Guestfs;
      const v = snapshotView(g, snap);
      expect((await v.readFile('/etc/passwd')).toString()).toContain('root:x:0');
      expect((await v.readFile('/etc/passwd.link')).toString()).toContain('root:x:0');
      expect((await v.readFile(`/etc/${long}/f.conf`)).toString()).toBe('deep\n');
      expect((await v.readFile('/etc/os-release')).toString()).toBe('NAME=x\n');
      expect(fallback).toEqual(['/etc/os-release']);
      await expect(v.readFile('/etc/missing')).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await v.ls('/etc/systemd/system/multi-user.target.wants')).toEqual(['ssh.service']);
      expect(await v.readlinklist('/etc/systemd/system/multi-user.target.wants', ['ssh.service'])).toEqual([
        '/lib/systemd/system/ssh.service',
      ]);
      expect(await v.exists('/etc/nope')).toBe(false);
      const [st] = await v.lstatnslist('/etc', ['passwd']);
      expect(st.st_mode & 0o170000n).toBe(0o100000n);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
