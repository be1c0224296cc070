// The doctor's pure parts: boot loader parsing, the command-line editor the repair uses, scoring,
// the plan's order, and Windows guests reported as not assessed.
import { describe, expect, it } from 'vitest';
import {
  cmdlineArg,
  parseBlsEntry,
  parseGrubCfg,
  parseGrubLegacy,
} from '../../src/handlers/doctor/boot-config.js';
import { diagnose, scoreOf } from '../../src/handlers/doctor/evaluate.js';
import type { DoctorFacts } from '../../src/handlers/doctor/facts.js';
import { parseModulesDep } from '../../src/handlers/doctor/facts.js';
import { editCmdline } from '../../src/handlers/fix/boot-ops.js';
import type { InspectionReport } from '../../src/handlers/inspect/report.js';

describe('boot loader configuration', () => {
  it('grub.cfg: entries, root= and the default by index, id or saved_entry', () => {
    const cfg =
      'set default="1"\nmenuentry \'A\' --id a {\n  linux /vmlinuz-1 root=UUID=x ro\n  initrd /initrd-1\n}\n' +
      "submenu 'More' {\n menuentry 'B' --id b {\n  linux16 /vmlinuz-2 root=/dev/sda2 console=ttyS0\n }\n}\n";
    const g = parseGrubCfg(cfg, '/boot/grub/grub.cfg');
    expect(g.entries.map((e) => [e.title, e.kernel, e.root, e.initrd])).toEqual([
      ['A', '/vmlinuz-1', 'UUID=x', '/initrd-1'],
      ['B', '/vmlinuz-2', '/dev/sda2', null],
    ]);
    expect(g.default).toBe(1);
    expect(
      parseGrubCfg(cfg.replace('set default="1"', 'set default="${saved_entry}"'), 'x', 'a').default,
    ).toBe(0);
  });

  it('BLS entries expand $kernelopts; GRUB legacy menu.lst', () => {
    const e = parseBlsEntry(
      'title R\nlinux /vmlinuz-5\ninitrd /initramfs-5.img\noptions $kernelopts quiet\n',
      'f',
      {
        kernelopts: 'root=UUID=y ro',
      },
    );
    expect(e).toMatchObject({ kernel: '/vmlinuz-5', root: 'UUID=y', initrd: '/initramfs-5.img' });
    const l = parseGrubLegacy(
      'default 0\ntitle Old\n kernel /vmlinuz-2.6 ro root=LABEL=/\n initrd /initrd-2.6.img\n',
      'm',
    );
    expect(l.entries[0]).toMatchObject({ root: 'LABEL=/', initrd: '/initrd-2.6.img' });
    expect(cmdlineArg('a root=x root=y', 'root')).toBe('y');
  });

  it('the repair command-line editor: root= replaced, console= added once, key=value replaced', () => {
    expect(editCmdline('root=/dev/sda2 ro quiet', 'UUID=u', ['console=tty0', 'console=ttyS0,115200n8'])).toBe(
      'root=UUID=u ro quiet console=tty0 console=ttyS0,115200n8',
    );
    expect(editCmdline('ro console=tty0 net.ifnames=1', null, ['console=tty0', 'net.ifnames=0'])).toBe(
      'ro console=tty0 net.ifnames=0',
    );
  });

  it('modules.dep and modules.builtin: names with underscores, dependencies resolved by name', () => {
    const idx = parseModulesDep(
      'kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz\nkernel/drivers/block/xen-blkfront.ko:\n',
      'kernel/drivers/virtio/virtio.ko\n',
      'modules.dep',
    );
    expect(idx.modules.virtio_net.deps).toEqual(['net_failover']);
    expect(idx.modules.xen_blkfront).toBeDefined();
    expect(idx.builtin).toEqual(['virtio']);
  });
});

describe('scoring', () => {
  it('weighted share of passed checks, held below 50 by a blocker', () => {
    const c = (passed: boolean, severity: 'blocker' | 'warning' | 'info', weight: number) => ({
      passed,
      severity,
      weight,
    });
    expect(scoreOf([c(true, 'blocker', 15), c(false, 'warning', 5)])).toBe(75);
    expect(scoreOf([c(true, 'warning', 90), c(false, 'blocker', 10)])).toBe(45);
    expect(scoreOf([])).toBe(100);
  });

  it('a Windows guest is detected and reported as not assessed, with no made-up score', () => {
    const report = {
      operating_system: {
        type: 'windows',
        distribution: 'windows',
        product_name: 'Windows Server 2019',
        version: '10.0',
        root: '/dev/sda2',
      },
    } as unknown as InspectionReport;
    const r = diagnose({ report } as DoctorFacts, 'kubevirt', true);
    expect(r).toMatchObject({ score: null, verdict: 'not-assessed', checks: [], blockers: [] });
    expect(r.summary).toMatch(/Windows Server 2019.*nothing was assessed/);
  });
});
