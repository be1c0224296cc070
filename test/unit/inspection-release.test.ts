// identifyLinux/hostnameOf against the release files of real distributions, checked field by field
// against what libguestfs 1.48's inspect_get_* says of the same files (os-release → lsb-release →
// per-distro files), plus the cases this module deliberately leaves to inspect_os (undefined).
import { describe, expect, it } from 'vitest';
import {
  hostnameOf,
  identifyLinux,
  keyValues,
  majorMinor,
  RELEASE_FILES,
  shellUnquote,
} from '../../lib/inspection/release.js';

const files = (entries: Record<string, string>) => new Map(Object.entries(entries));

const DEBIAN_12_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

const UBUNTU_2204_OS_RELEASE = `PRETTY_NAME="Ubuntu 22.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.3 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=jammy
`;

const UBUNTU_2204_LSB = `DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=22.04
DISTRIB_CODENAME=jammy
DISTRIB_DESCRIPTION="Ubuntu 22.04.3 LTS"
`;

const ROCKY_93_OS_RELEASE = `NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
`;

const RHEL_92_OS_RELEASE = `NAME="Red Hat Enterprise Linux"
VERSION="9.2 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.2 (Plow)"
ANSI_COLOR="0;31"
`;

const FEDORA_39_OS_RELEASE = `NAME="Fedora Linux"
VERSION="39 (Cloud Edition)"
ID=fedora
VERSION_ID=39
VERSION_CODENAME=""
PLATFORM_ID="platform:f39"
PRETTY_NAME="Fedora Linux 39 (Cloud Edition)"
ANSI_COLOR="0;38;2;60;110;180"
VARIANT="Cloud Edition"
VARIANT_ID=cloud
`;

const CENTOS_7_OS_RELEASE = `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
`;

describe('identifyLinux', () => {
  it('Debian 12: os-release VERSION_ID="12" defers to /etc/debian_version', () => {
    const facts = identifyLinux(
      files({ '/etc/os-release': DEBIAN_12_OS_RELEASE, '/etc/debian_version': '12.4\n' }),
    );
    expect(facts).toEqual({
      distro: 'debian',
      product_name: '12.4',
      major_version: 12,
      minor_version: 4,
      osinfo: 'debian12',
      package_format: 'deb',
      package_management: 'apt',
    });
  });

  it('Debian testing: an unversioned debian_version keeps the os-release version', () => {
    const facts = identifyLinux(
      files({ '/etc/os-release': DEBIAN_12_OS_RELEASE, '/etc/debian_version': 'trixie/sid\n' }),
    );
    expect(facts).toMatchObject({ distro: 'debian', product_name: 'trixie/sid', major_version: 12 });
    expect(facts?.minor_version).toBe(0);
  });

  it('Ubuntu 22.04 from os-release alone', () => {
    const facts = identifyLinux(
      files({
        '/etc/os-release': UBUNTU_2204_OS_RELEASE,
        '/etc/lsb-release': UBUNTU_2204_LSB,
        '/etc/debian_version': 'bookworm/sid\n',
      }),
    );
    expect(facts).toEqual({
      distro: 'ubuntu',
      product_name: 'Ubuntu 22.04.3 LTS',
      major_version: 22,
      minor_version: 4,
      osinfo: 'ubuntu22.04',
      package_format: 'deb',
      package_management: 'apt',
    });
  });

  it('Ubuntu from lsb-release when os-release is absent', () => {
    const facts = identifyLinux(
      files({ '/etc/lsb-release': UBUNTU_2204_LSB, '/etc/debian_version': 'bookworm/sid\n' }),
    );
    expect(facts).toEqual({
      distro: 'ubuntu',
      product_name: 'Ubuntu 22.04.3 LTS',
      major_version: 22,
      minor_version: 4,
      osinfo: 'ubuntu22.04',
      package_format: 'deb',
      package_management: 'apt',
    });
  });

  it('Ubuntu 18.04 pads the osinfo minor to two digits', () => {
    const lsb = 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=18.04\nDISTRIB_DESCRIPTION="Ubuntu 18.04.6 LTS"\n';
    expect(identifyLinux(files({ '/etc/lsb-release': lsb }))?.osinfo).toBe('ubuntu18.04');
  });

  it('lsb-release of LinuxMint is left to inspect_os', () => {
    const lsb =
      'DISTRIB_ID=LinuxMint\nDISTRIB_RELEASE=21.2\nDISTRIB_DESCRIPTION="Linux Mint 21.2 Victoria"\n';
    expect(identifyLinux(files({ '/etc/lsb-release': lsb, '/etc/debian_version': 'bookworm/sid\n' }))).toBe(
      undefined,
    );
  });

  it('Rocky 9.3', () => {
    const facts = identifyLinux(
      files({
        '/etc/os-release': ROCKY_93_OS_RELEASE,
        '/etc/redhat-release': 'Rocky Linux release 9.3 (Blue Onyx)\n',
      }),
    );
    expect(facts).toEqual({
      distro: 'rocky',
      product_name: 'Rocky Linux 9.3 (Blue Onyx)',
      major_version: 9,
      minor_version: 3,
      osinfo: 'rocky9',
      package_format: 'rpm',
      package_management: 'dnf',
    });
  });

  it('RHEL 9.2', () => {
    const facts = identifyLinux(files({ '/etc/os-release': RHEL_92_OS_RELEASE }));
    expect(facts).toEqual({
      distro: 'rhel',
      product_name: 'Red Hat Enterprise Linux 9.2 (Plow)',
      major_version: 9,
      minor_version: 2,
      osinfo: 'rhel9.2',
      package_format: 'rpm',
      package_management: 'dnf',
    });
  });

  it('Fedora 39 (unquoted VERSION_ID)', () => {
    const facts = identifyLinux(files({ '/etc/os-release': FEDORA_39_OS_RELEASE }));
    expect(facts).toEqual({
      distro: 'fedora',
      product_name: 'Fedora Linux 39 (Cloud Edition)',
      major_version: 39,
      minor_version: 0,
      osinfo: 'fedora39',
      package_format: 'rpm',
      package_management: 'dnf',
    });
  });

  it('CentOS 7: os-release bails out to /etc/centos-release, which settles 7.9', () => {
    expect(
      identifyLinux(
        files({
          '/etc/os-release': CENTOS_7_OS_RELEASE,
          '/etc/centos-release': 'CentOS Linux release 7.9.2009 (Core)\n',
          '/etc/redhat-release': 'CentOS Linux release 7.9.2009 (Core)\n',
        }),
      ),
    ).toMatchObject({
      distro: 'centos',
      product_name: 'CentOS Linux release 7.9.2009 (Core)',
      major_version: 7,
      minor_version: 9,
      osinfo: 'centos7.0',
      package_management: 'yum',
    });
  });

  it('CentOS Stream 9: VERSION_ID="9" (minor 0) defers to /etc/centos-release (major only)', () => {
    const osRelease = 'NAME="CentOS Stream"\nID="centos"\nVERSION_ID="9"\nPRETTY_NAME="CentOS Stream 9"\n';
    expect(
      identifyLinux(
        files({ '/etc/os-release': osRelease, '/etc/centos-release': 'CentOS Stream release 9\n' }),
      ),
    ).toMatchObject({
      distro: 'centos',
      product_name: 'CentOS Stream release 9',
      major_version: 9,
      minor_version: 0,
    });
  });

  it('Rocky 9.0: VERSION_ID="9.0" defers to /etc/rocky-release, as for Debian and CentOS', () => {
    const osRelease =
      'NAME="Rocky Linux"\nVERSION="9.0 (Blue Onyx)"\nID="rocky"\nVERSION_ID="9.0"\nPRETTY_NAME="Rocky Linux 9.0 (Blue Onyx)"\n';
    const rocky = 'Rocky Linux release 9.0 (Blue Onyx)\n';
    expect(
      identifyLinux(
        files({ '/etc/os-release': osRelease, '/etc/rocky-release': rocky, '/etc/redhat-release': rocky }),
      ),
    ).toEqual({
      distro: 'rocky',
      product_name: 'Rocky Linux release 9.0 (Blue Onyx)',
      major_version: 9,
      minor_version: 0,
      osinfo: 'rocky9',
      package_format: 'rpm',
      package_management: 'dnf',
    });
    // Without the release files os-release's answer stands (libguestfs keeps what it parsed).
    expect(identifyLinux(files({ '/etc/os-release': osRelease }))).toMatchObject({
      product_name: 'Rocky Linux 9.0 (Blue Onyx)',
      major_version: 9,
    });
    // Only redhat-release (a copy, not the usual symlink): its Rocky patterns settle it.
    expect(
      identifyLinux(files({ '/etc/os-release': osRelease, '/etc/redhat-release': rocky })),
    ).toMatchObject({
      product_name: 'Rocky Linux release 9.0 (Blue Onyx)',
    });
  });

  it('no version anywhere: package management unknown, as libguestfs says (found by the differential test)', () => {
    const osRelease = 'NAME="CentOS Linux"\nID=centos\nHOME_URL="https://example.org/"\n';
    expect(identifyLinux(files({ '/etc/os-release': osRelease }))).toMatchObject({
      distro: 'centos',
      product_name: 'unknown',
      major_version: 0,
      package_management: 'unknown',
    });
  });

  it('Debian and Ubuntu with no version anywhere: apt all the same, as libguestfs says (differential run)', () => {
    const osRelease = (id: string) => `NAME="X"\nID=${id}\nPRETTY_NAME="X"\n`;
    for (const id of ['debian', 'ubuntu'])
      expect(identifyLinux(files({ '/etc/os-release': osRelease(id) }))).toMatchObject({
        distro: id,
        major_version: 0,
        package_management: 'apt',
      });
    const fedora = identifyLinux(files({ '/etc/os-release': osRelease('fedora') }));
    expect(fedora).toMatchObject({ distro: 'fedora', major_version: 0, package_management: 'unknown' });
  });

  it('redhat-release alone: Fedora, RHEL (with and without minor), CentOS', () => {
    const one = (text: string) => identifyLinux(files({ '/etc/redhat-release': `${text}\n` }));
    expect(one('Fedora release 39 (Thirty Nine)')).toMatchObject({
      distro: 'fedora',
      major_version: 39,
      minor_version: 0,
    });
    expect(one('Red Hat Enterprise Linux release 9.2 (Plow)')).toMatchObject({
      distro: 'rhel',
      major_version: 9,
      minor_version: 2,
    });
    expect(one('Red Hat Enterprise Linux Server release 5 (Tikanga)')).toMatchObject({
      distro: 'rhel',
      major_version: 5,
    });
    expect(one('CentOS release 6.10 (Final)')).toMatchObject({ distro: 'centos', osinfo: 'centos6.10' });
    // Scientific Linux or a generic Red Hat-based one: beyond these rules.
    expect(one('Scientific Linux release 7.9 (Nitrogen)')).toBe(undefined);
    expect(one('AlmaLinux release 9.2 (Turquoise Kodkod)')).toBe(undefined);
  });

  it.each(['arch', 'kali', 'opensuse-leap'])(
    'ID=%s (another distribution libguestfs knows) → undefined',
    (id) => {
      const osRelease = `NAME="X"\nID=${id}\nVERSION_ID="1.2"\nPRETTY_NAME="Some Linux 1.2"\n`;
      expect(identifyLinux(files({ '/etc/os-release': osRelease, '/etc/debian_version': '12.4\n' }))).toBe(
        undefined,
      );
    },
  );

  it.each(['linuxmint', 'almalinux'])(
    'ID=%s (unknown to libguestfs) is ignored: the release files decide',
    (id) => {
      const osRelease = `NAME="X"\nID=${id}\nVERSION_ID="1.2"\nPRETTY_NAME="Some Linux 1.2"\n`;
      expect(
        identifyLinux(files({ '/etc/os-release': osRelease, '/etc/debian_version': '12.4\n' })),
      ).toMatchObject({ distro: 'debian', product_name: '12.4' });
      expect(identifyLinux(files({ '/etc/os-release': osRelease }))).toBe(undefined);
    },
  );

  it('no os-release: /etc/debian_version alone makes a Debian', () => {
    expect(identifyLinux(files({ '/etc/debian_version': '11.8\n' }))).toEqual({
      distro: 'debian',
      product_name: '11.8',
      major_version: 11,
      minor_version: 8,
      osinfo: 'debian11',
      package_format: 'deb',
      package_management: 'apt',
    });
  });

  it('an empty debian_version or no release file at all → undefined', () => {
    expect(identifyLinux(files({ '/etc/debian_version': '\n' }))).toBe(undefined);
    expect(identifyLinux(files({}))).toBe(undefined);
  });

  it('a Red Hat release file ahead of debian_version is left to inspect_os', () => {
    for (const path of ['/etc/oracle-release', '/etc/altlinux-release', '/etc/redhat-release']) {
      expect(
        identifyLinux(files({ [path]: 'Something release 8.1\n', '/etc/debian_version': '12.4\n' })),
      ).toBe(undefined);
    }
  });

  it('lists its release files in libguestfs order, os-release first', () => {
    expect(RELEASE_FILES[0]).toBe('/etc/os-release');
    expect(RELEASE_FILES[1]).toBe('/etc/lsb-release');
    expect(RELEASE_FILES.indexOf('/etc/rocky-release')).toBeLessThan(
      RELEASE_FILES.indexOf('/etc/redhat-release'),
    );
    expect(RELEASE_FILES.indexOf('/etc/redhat-release')).toBeLessThan(
      RELEASE_FILES.indexOf('/etc/debian_version'),
    );
  });
});

describe('shellUnquote / keyValues / majorMinor', () => {
  it('unquotes double quotes with backslash escapes and single quotes verbatim', () => {
    expect(shellUnquote('"a \\"b\\""')).toBe('a "b"');
    expect(shellUnquote('"back\\\\slash \\$HOME \\`x\\`"')).toBe('back\\slash $HOME `x`');
    expect(shellUnquote("'x'")).toBe('x');
    expect(shellUnquote("'a \\\"b'")).toBe('a \\"b');
    expect(shellUnquote('plain')).toBe('plain');
    expect(shellUnquote('"')).toBe('"');
    expect(shellUnquote('""')).toBe('');
  });

  it('splits KEY=value at the first =, skipping comments and blank lines', () => {
    const text = '# comment\n\nID=debian\nPRETTY_NAME="A=B"\nNOVALUE\nURL=http://x/?a=b\n';
    expect(keyValues(text, shellUnquote)).toEqual([
      ['ID', 'debian'],
      ['PRETTY_NAME', 'A=B'],
      ['NOVALUE', ''],
      ['URL', 'http://x/?a=b'],
    ]);
  });

  it('reads the first major.minor, else a bare major', () => {
    expect(majorMinor('22.04')).toEqual([22, 4]);
    expect(majorMinor('Rocky Linux release 9.3 (Blue Onyx)')).toEqual([9, 3]);
    expect(majorMinor('39')).toEqual([39, 0]);
    expect(majorMinor('7.9.2009')).toEqual([7, 9]);
    expect(majorMinor('bookworm/sid')).toBe(undefined);
  });
});

describe('hostnameOf', () => {
  it('takes the first line of /etc/hostname', () => {
    expect(hostnameOf(files({ '/etc/hostname': 'web01\nignored\n' }))).toBe('web01');
  });

  it('skips empty and # comment lines of the hostname files (an Ansible header)', () => {
    expect(hostnameOf(files({ '/etc/hostname': '# Ansible managed\n\nweb01.example.com\n' }))).toBe(
      'web01.example.com',
    );
    // A file of comments only says nothing: the next file is asked.
    expect(hostnameOf(files({ '/etc/HOSTNAME': '# none\n', '/etc/hostname': 'web01\n' }))).toBe('web01');
  });

  it('prefers /etc/HOSTNAME over /etc/hostname', () => {
    expect(hostnameOf(files({ '/etc/HOSTNAME': 'old-suse\n', '/etc/hostname': 'web01\n' }))).toBe('old-suse');
  });

  it('skips an empty /etc/HOSTNAME', () => {
    expect(hostnameOf(files({ '/etc/HOSTNAME': '', '/etc/hostname': 'web01\n' }))).toBe('web01');
  });

  it('falls back to HOSTNAME= of /etc/sysconfig/network, quotes kept as libguestfs (Augeas) keeps them', () => {
    const network = 'NETWORKING=yes\nHOSTNAME=rhel6.example.com\nGATEWAY=10.0.0.1\n';
    expect(hostnameOf(files({ '/etc/sysconfig/network': network }))).toBe('rhel6.example.com');
    // Found by the 500-case differential run: inspect_os says `"web01"`, quotes included.
    const quoted = 'NETWORKING=yes\nHOSTNAME="web01"\n';
    expect(hostnameOf(files({ '/etc/sysconfig/network': quoted }))).toBe('"web01"');
  });

  it('says unknown when nothing names the host', () => {
    expect(hostnameOf(files({}))).toBe('unknown');
    expect(hostnameOf(files({ '/etc/hostname': '', '/etc/sysconfig/network': 'NETWORKING=yes\n' }))).toBe(
      'unknown',
    );
  });
});
