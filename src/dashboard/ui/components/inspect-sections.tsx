// The tables of an inspection report: packages (with search), services, users, network, storage.
import { useMemo, useState } from 'preact/hooks';
import { bytes, show } from '../format.js';
import type { RootView } from '../report-types.js';
import { Section, TableWrap } from './common.js';

/** Rendering thousands of rows would make the page sluggish; the search narrows them. */
const MAX_ROWS = 500;

export function InspectSections({ report: r }: { report: RootView }) {
  return (
    <>
      {r.packages && <PackagesTable packages={r.packages} />}
      {r.services && (
        <Section
          id="services"
          title={`Services (${r.services.enabled.length} enabled of ${r.services.count})`}
        >
          <TableWrap label="Services">
            <table>
              <thead>
                <tr>
                  <th scope="col">Unit</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Enabled</th>
                  <th scope="col">Wanted by</th>
                </tr>
              </thead>
              <tbody>
                {r.services.units.map((u) => (
                  <tr key={`${u.kind}:${u.name}`}>
                    <td class="mono">{u.name}</td>
                    <td>
                      {u.kind} {u.type}
                    </td>
                    <td>{u.enabled ? 'yes' : 'no'}</td>
                    <td>{show(u.wanted_by)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}
      {r.users && (
        <Section id="users" title={`Users (${r.users.login_count} can log in, ${r.users.count} total)`}>
          <TableWrap label="Users">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">UID</th>
                  <th scope="col">Shell</th>
                  <th scope="col">Login</th>
                  <th scope="col">System</th>
                </tr>
              </thead>
              <tbody>
                {r.users.accounts.map((a) => (
                  <tr key={a.name}>
                    <td class="mono">{a.name}</td>
                    <td>{a.uid}</td>
                    <td class="mono">{a.shell}</td>
                    <td>{a.login ? 'yes' : 'no'}</td>
                    <td>{a.system ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}
      {r.network && (
        <Section id="network" title="Network">
          <dl class="facts">
            <dt>Hostname</dt>
            <dd>{show(r.network.hostname)}</dd>
            <dt>Gateway</dt>
            <dd>{show(r.network.gateway)}</dd>
            <dt>DNS</dt>
            <dd>{show(r.network.dns_servers)}</dd>
          </dl>
          <TableWrap label="Interfaces">
            <table>
              <thead>
                <tr>
                  <th scope="col">Interface</th>
                  <th scope="col">Source</th>
                  <th scope="col">Addresses</th>
                  <th scope="col">DHCP</th>
                </tr>
              </thead>
              <tbody>
                {r.network.interfaces.map((i) => (
                  <tr key={i.name + i.config_source}>
                    <td class="mono">{i.name}</td>
                    <td>{i.config_source}</td>
                    <td class="mono">{show(i.addresses)}</td>
                    <td>{i.dhcp ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}
      <Section id="storage" title="Storage">
        <TableWrap label="Filesystems">
          <table>
            <caption>Filesystems</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Type</th>
                <th scope="col">Mounted at</th>
                <th scope="col">Size</th>
                <th scope="col">UUID</th>
              </tr>
            </thead>
            <tbody>
              {r.filesystems.map((f) => (
                <tr key={f.device}>
                  <td class="mono">{f.device}</td>
                  <td>{f.type}</td>
                  <td class="mono">
                    {show(Object.entries(r.mountpoints).find(([, d]) => d === f.device)?.[0])}
                  </td>
                  <td>{bytes(f.size_bytes)}</td>
                  <td class="mono small">{show(f.uuid)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
        {r.storage && (
          <>
            <h3>LVM</h3>
            <dl class="facts">
              <dt>Physical volumes</dt>
              <dd class="mono">{show(r.storage.lvm.pvs)}</dd>
              <dt>Volume groups</dt>
              <dd class="mono">{show(r.storage.lvm.vgs)}</dd>
              <dt>Logical volumes</dt>
              <dd class="mono">{show(r.storage.lvm.lvs)}</dd>
            </dl>
            <TableWrap label="fstab">
              <table>
                <caption>/etc/fstab</caption>
                <thead>
                  <tr>
                    <th scope="col">Spec</th>
                    <th scope="col">Mount point</th>
                    <th scope="col">Type</th>
                    <th scope="col">Options</th>
                  </tr>
                </thead>
                <tbody>
                  {r.storage.fstab.map((f) => (
                    <tr key={f.spec + f.mountpoint}>
                      <td class="mono small">{f.spec}</td>
                      <td class="mono">{f.mountpoint}</td>
                      <td>{f.type}</td>
                      <td class="mono small">{f.options}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </>
        )}
      </Section>
    </>
  );
}

function PackagesTable({ packages }: { packages: NonNullable<RootView['packages']> }) {
  const [q, setQ] = useState('');
  const filtered = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return needle
      ? packages.packages.filter(
          (p) => p.name.toLowerCase().includes(needle) || p.summary.toLowerCase().includes(needle),
        )
      : packages.packages;
  }, [q, packages]);
  return (
    <Section id="packages" title={`Packages (${packages.count}, ${packages.manager})`}>
      <label class="search">
        Search packages
        <input
          type="search"
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
          placeholder="name or summary"
        />
      </label>
      <p class="small muted" aria-live="polite">
        {filtered.length} of {packages.count} shown
        {filtered.length > MAX_ROWS ? ` (first ${MAX_ROWS}; refine the search)` : ''}
      </p>
      <TableWrap label="Packages">
        <table class="packages">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Version</th>
              <th scope="col">Arch</th>
              <th scope="col">Summary</th>
            </tr>
          </thead>
          <tbody>
            {filtered.slice(0, MAX_ROWS).map((p) => (
              <tr key={`${p.name}:${p.arch}`} data-package={p.name}>
                <td class="mono">{p.name}</td>
                <td class="mono">
                  {p.epoch ? `${p.epoch}:` : ''}
                  {p.version}
                  {p.release ? `-${p.release}` : ''}
                </td>
                <td>{p.arch}</td>
                <td>{p.summary}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </Section>
  );
}
