// Hash routes of the dashboard (pure: no DOM): `#/jobs/<id>/report` ↔ { page: 'report', id }.

export type Route =
  | { page: 'jobs' }
  | { page: 'job'; id: string }
  | { page: 'report'; id: string }
  | { page: 'compare'; id: string }
  | { page: 'doctor'; id: string }
  | { page: 'workers' }
  | { page: 'submit' }
  | { page: 'files'; image?: string }
  | { page: 'missing'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'jobs')) return { page: 'jobs' };
  if (parts[0] === 'jobs' && parts.length === 2) return { page: 'job', id: parts[1] };
  if (
    parts[0] === 'jobs' &&
    parts.length === 3 &&
    (parts[2] === 'report' || parts[2] === 'compare' || parts[2] === 'doctor')
  ) {
    return { page: parts[2], id: parts[1] };
  }
  if (parts[0] === 'files' && parts.length <= 2) return { page: 'files', image: parts[1] };
  if (parts.length === 1 && (parts[0] === 'workers' || parts[0] === 'submit')) return { page: parts[0] };
  return { page: 'missing', path };
}

export const href = {
  jobs: () => '#/jobs',
  job: (id: string) => `#/jobs/${encodeURIComponent(id)}`,
  report: (id: string) => `#/jobs/${encodeURIComponent(id)}/report`,
  compare: (id: string) => `#/jobs/${encodeURIComponent(id)}/compare`,
  doctor: (id: string) => `#/jobs/${encodeURIComponent(id)}/doctor`,
  workers: () => '#/workers',
  submit: () => '#/submit',
  /** The Files page, opening `image` (a path on the worker) when given. */
  files: (image?: string) => (image ? `#/files/${encodeURIComponent(image)}` : '#/files'),
};
