// Files of a disk image (an explore session of the worker: one read-only appliance, closed when
// idle): a breadcrumb, the directory table with a name filter, a preview pane (text with line
// numbers, hex for binary) and a download button. The session is closed when the page is left.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure, download } from '../api.js';
import { ErrorBox, Loading, TableWrap } from '../components/common.js';
import { href } from '../router.js';

interface Entry {
  name: string;
  path: string;
  type: string;
  size: number;
  permissions: string;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  mtime: string;
  target?: string;
  targetType?: string;
}
interface Listing {
  path: string;
  entries: Entry[];
  total: number;
}
interface Read {
  path: string;
  size: number;
  length: number;
  binary: boolean;
  encoding: 'utf8' | 'base64';
  content: string;
}
interface Session {
  id: string;
  image: { path: string; format: string };
  layout: { kind: string; product?: string; mounts: Record<string, string> };
  ttl_seconds: number;
}

const PREVIEW_BYTES = 64 * 1024;

function hexLines(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = [...bytes.subarray(i, i + 16)];
    const hex = row.map((b) => b.toString(16).padStart(2, '0'));
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out.push(
      `${i.toString(16).padStart(8, '0')}  ${hex.slice(0, 8).join(' ').padEnd(23)}  ${hex.slice(8).join(' ').padEnd(23)}  |${ascii}|`,
    );
  }
  return out;
}

function Preview({ read, onDownload }: { read: Read; onDownload: () => void }) {
  const lines =
    read.encoding === 'utf8'
      ? read.content.replace(/\n$/, '').split('\n')
      : hexLines(Uint8Array.from(atob(read.content), (c) => c.charCodeAt(0)));
  const cut =
    read.length < read.size ? ` · first ${read.length} of ${read.size} bytes` : ` · ${read.size} bytes`;
  return (
    <section class="card preview" aria-label="Preview">
      <div class="preview-head">
        <h2>{read.path}</h2>
        <button type="button" class="small" onClick={onDownload}>
          Download
        </button>
      </div>
      <p class="small muted">
        {read.binary ? 'binary, shown as hex' : 'text'}
        {cut}
      </p>
      <pre class={read.binary ? 'hex' : 'numbered'} data-testid="preview">
        {lines.map((l, i) => (
          <div key={i}>
            {!read.binary && <span class="ln">{i + 1}</span>}
            {l}
          </div>
        ))}
      </pre>
    </section>
  );
}

function Breadcrumb({ path, go }: { path: string; go: (p: string) => void }) {
  const parts = path.split('/').filter(Boolean);
  return (
    <nav aria-label="Breadcrumb" class="breadcrumb">
      <a href="#" onClick={(e) => (e.preventDefault(), go('/'))}>
        /
      </a>
      {parts.map((p, i) => {
        const to = `/${parts.slice(0, i + 1).join('/')}`;
        return (
          <span key={to}>
            {i > 0 && ' / '}
            {i === parts.length - 1 ? (
              <span aria-current="page">{p}</span>
            ) : (
              <a href="#" onClick={(e) => (e.preventDefault(), go(to))}>
                {p}
              </a>
            )}
          </span>
        );
      })}
    </nav>
  );
}

function OpenForm({ image }: { image?: string }) {
  const [path, setPath] = useState(image ?? '');
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        location.hash = href.files(path.trim());
      }}
    >
      <label for="image-path">Disk image on the worker</label>
      <input
        id="image-path"
        required
        placeholder="/var/lib/images/vm.qcow2"
        value={path}
        onInput={(e) => setPath(e.currentTarget.value)}
      />
      <div class="actions">
        <button type="submit">Open</button>
      </div>
    </form>
  );
}

export function FilesPage({ image }: { image?: string }) {
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const [ended, setEnded] = useState(false);
  const [cwd, setCwd] = useState('/');
  const [listing, setListing] = useState<Listing | null>(null);
  const [filter, setFilter] = useState('');
  const [read, setRead] = useState<Read | null>(null);
  const [opened, setOpened] = useState(0);

  const fail = (err: unknown) => {
    if (!(err instanceof ApiFailure)) return setError(new ApiFailure(0, 'ERROR', String(err)));
    // The session itself is gone (closed or idle past its TTL): offer to open a new one.
    if (err.status === 404 && err.code === 'NOT_FOUND') setEnded(true);
    setError(err);
  };

  useEffect(() => {
    if (!image) return;
    let id: string | undefined;
    let gone = false;
    api<Session>('/api/v1/explore', { method: 'POST', body: { image: { path: image } } }).then((s) => {
      id = s.id;
      if (gone) void api(`/api/v1/explore/${s.id}`, { method: 'DELETE' }).catch(() => undefined);
      else setSession(s);
    }, fail);
    // Leaving the page closes the session; a closed tab leaves it to the idle TTL.
    return () => {
      gone = true;
      if (id) void api(`/api/v1/explore/${id}`, { method: 'DELETE' }).catch(() => undefined);
    };
  }, [image, opened]);

  useEffect(() => {
    if (!session) return;
    setListing(null);
    setFilter('');
    api<Listing>(`/api/v1/explore/${session.id}/ls?path=${encodeURIComponent(cwd)}&limit=5000`).then(
      (l) => (setListing(l), setError(null)),
      fail,
    );
  }, [session, cwd]);

  if (!image) {
    return (
      <>
        <h1>Files</h1>
        <p>Browse the files of a disk image, read-only: the worker opens it in an appliance of its own.</p>
        <OpenForm />
      </>
    );
  }
  const open = (e: Entry) => {
    if (!session) return;
    if (e.type === 'directory' || (e.type === 'symlink' && e.targetType === 'directory')) {
      setRead(null);
      setCwd(e.path);
      return;
    }
    api<Read>(
      `/api/v1/explore/${session.id}/read?path=${encodeURIComponent(e.path)}&length=${PREVIEW_BYTES}`,
    ).then((r) => (setRead(r), setError(null)), fail);
  };
  const shown = (listing?.entries ?? []).filter((e) => e.name.toLowerCase().includes(filter.toLowerCase()));
  const where = session
    ? session.layout.kind === 'os'
      ? `${session.layout.product ?? 'operating system'}`
      : 'filesystems by device name'
    : '';
  return (
    <>
      <h1>Files of {image}</h1>
      {session && (
        <p class="small muted live" data-session={ended ? 'ended' : 'live'}>
          {ended
            ? 'The session ended (closed, or idle too long).'
            : `${where} · session ${session.id} · closes after ${session.ttl_seconds} s idle`}{' '}
          {ended && (
            <button
              type="button"
              class="small"
              onClick={() => (setEnded(false), setSession(null), setOpened((n) => n + 1))}
            >
              Reopen
            </button>
          )}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      {!session && !error && <Loading what={`${image} (starting an appliance)`} />}
      {session && (
        <div class="files">
          <section class="card" aria-label="Directory">
            <Breadcrumb path={cwd} go={(p) => (setRead(null), setCwd(p))} />
            <div class="filters">
              <label for="file-filter">Filter</label>
              <input
                id="file-filter"
                type="search"
                value={filter}
                onInput={(e) => setFilter(e.currentTarget.value)}
              />
            </div>
            {!listing ? (
              <Loading what={cwd} />
            ) : (
              <TableWrap label={`Files in ${cwd}`}>
                <table class="files-table">
                  <caption class="sr-only">Files in {cwd}</caption>
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>Size</th>
                      <th>Mode</th>
                      <th>Owner</th>
                      <th>Modified</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((e) => (
                      <tr key={e.path} data-type={e.type} aria-selected={read?.path === e.path}>
                        <td>
                          <a href="#" onClick={(ev) => (ev.preventDefault(), open(e))}>
                            {e.name}
                            {e.type === 'directory' ? '/' : ''}
                          </a>
                          {e.target !== undefined && <span class="muted small"> → {e.target}</span>}
                        </td>
                        <td>{e.type === 'directory' ? '' : e.size}</td>
                        <td class="mono">{e.permissions}</td>
                        <td>
                          {e.user ?? e.uid}:{e.group ?? e.gid}
                        </td>
                        <td>{e.mtime.slice(0, 16).replace('T', ' ')}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )}
            {listing && (
              <p class="small muted">
                {shown.length} of {listing.total} entries
              </p>
            )}
          </section>
          {read && (
            <Preview
              read={read}
              onDownload={() =>
                void download(
                  `/api/v1/explore/${session.id}/download?path=${encodeURIComponent(read.path)}`,
                  read.path.split('/').pop() ?? 'file',
                ).catch(fail)
              }
            />
          )}
        </div>
      )}
    </>
  );
}
