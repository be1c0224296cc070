// Accounts from /etc/passwd, /etc/shadow and /etc/group (and UID_MIN from /etc/login.defs).
import type { UserAccount, UsersInfo } from '../report.js';
import { meaningfulLines } from '../guest.js';

const NO_LOGIN_SHELLS = /(^|\/)(nologin|false|sync|shutdown|halt)$/;

export interface AccountFiles {
  passwd: string | null;
  shadow: string | null;
  group: string | null;
  loginDefs: string | null;
}

export const ACCOUNT_FILES = ['/etc/passwd', '/etc/shadow', '/etc/group', '/etc/login.defs'] as const;

/** UID_MIN of login.defs (1000 when absent), below which accounts are system accounts. */
export function uidMin(loginDefs: string | null): number {
  for (const line of meaningfulLines(loginDefs)) {
    const m = /^UID_MIN\s+(\d+)/.exec(line);
    if (m) return Number(m[1]);
  }
  return 1000;
}

export function parseUsers(files: AccountFiles): UsersInfo {
  const shadow = new Map<string, string>();
  for (const line of meaningfulLines(files.shadow)) {
    const [name, hash = ''] = line.split(':');
    shadow.set(name, hash);
  }
  const groups: UsersInfo['groups'] = [];
  const memberOf = new Map<string, string[]>();
  const groupByGid = new Map<number, string>();
  for (const line of meaningfulLines(files.group)) {
    const [name, , gid, members = ''] = line.split(':');
    const list = members.split(',').filter(Boolean);
    groups.push({ name, gid: Number(gid), members: list });
    groupByGid.set(Number(gid), name);
    for (const m of list) memberOf.set(m, [...(memberOf.get(m) ?? []), name]);
  }
  const min = uidMin(files.loginDefs);
  const accounts: UserAccount[] = [];
  for (const line of meaningfulLines(files.passwd)) {
    const f = line.split(':');
    if (f.length < 7 || f[0].startsWith('+') || f[0].startsWith('-')) continue; // NIS markers
    const [name, , uidText, gidText, , home, shell] = f;
    const uid = Number(uidText);
    const gid = Number(gidText);
    const hash = shadow.get(name);
    const locked = hash !== undefined && (hash.startsWith('!') || hash.startsWith('*'));
    const emptyPassword = hash === '';
    const shellAllows = shell !== '' && !NO_LOGIN_SHELLS.test(shell);
    const primary = groupByGid.get(gid);
    accounts.push({
      name,
      uid,
      gid,
      home,
      shell,
      login: shellAllows && !locked,
      system: uid < min || uid === 65534,
      locked,
      empty_password: emptyPassword,
      groups: [...new Set([...(primary ? [primary] : []), ...(memberOf.get(name) ?? [])])],
    });
  }
  return {
    count: accounts.length,
    login_count: accounts.filter((a) => a.login).length,
    accounts,
    groups,
  };
}
