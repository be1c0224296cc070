// The dashboard shell: navigation, the token login, and the page of the current hash route.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { session, UNAUTHORIZED_EVENT } from './api.js';
import { ComparePage } from './pages/compare.js';
import { DoctorPage } from './pages/doctor.js';
import { FilesPage } from './pages/files.js';
import { JobPage } from './pages/job.js';
import { JobsPage } from './pages/jobs.js';
import { ReportPage } from './pages/report.js';
import { SubmitPage } from './pages/submit.js';
import { WorkersPage } from './pages/workers.js';
import { href, useRoute, type Route } from './router.js';
import './style.css';

function Login({ onLogin, rejected }: { onLogin: () => void; rejected: boolean }) {
  const [token, setToken] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <form
      class="card login"
      aria-labelledby="login-h"
      onSubmit={(e) => {
        e.preventDefault();
        session.setToken(token.trim());
        onLogin();
      }}
    >
      <h1 id="login-h">Sign in</h1>
      <p>This worker's API needs a token (the daemon's --api-token / GUESTKIT_API_TOKEN).</p>
      {rejected && (
        <p class="error-box" role="alert">
          The token was refused: check it and try again.
        </p>
      )}
      <label for="token">API token</label>
      <input
        id="token"
        ref={input}
        type="password"
        autocomplete="current-password"
        required
        value={token}
        onInput={(e) => setToken(e.currentTarget.value)}
      />
      <div class="actions">
        <button type="submit">Sign in</button>
      </div>
      <p class="small muted">The token is kept in this tab's session storage only.</p>
    </form>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'jobs':
      return <JobsPage />;
    case 'job':
      return <JobPage key={route.id} id={route.id} />;
    case 'report':
      return <ReportPage key={route.id} id={route.id} />;
    case 'doctor':
      return <DoctorPage key={route.id} id={route.id} />;
    case 'compare':
      return <ComparePage key={route.id} id={route.id} />;
    case 'workers':
      return <WorkersPage />;
    case 'submit':
      return <SubmitPage />;
    case 'files':
      return <FilesPage key={route.image} image={route.image} />;
    default:
      return (
        <p>
          No page at <code>{route.path}</code>. <a href={href.jobs()}>Go to the jobs list.</a>
        </p>
      );
  }
}

const NAV: [Route['page'], string, string][] = [
  ['jobs', 'Jobs', href.jobs()],
  ['submit', 'Submit', href.submit()],
  ['workers', 'Workers', href.workers()],
  ['files', 'Files', href.files()],
];

function App() {
  const route = useRoute();
  const [unauthorized, setUnauthorized] = useState(false);
  // Bumped on sign-in/out so every page remounts and refetches with the new token.
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const on = () => setUnauthorized(true);
    window.addEventListener(UNAUTHORIZED_EVENT, on);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, on);
  }, []);
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    // Keyboard and screen-reader users land on the new page's content, not on the old link.
    const h1 = main.current?.querySelector('h1');
    if (h1) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
  }, [route]);
  const active =
    route.page === 'job' || route.page === 'report' || route.page === 'compare' || route.page === 'doctor'
      ? 'jobs'
      : route.page;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href.jobs()}>
          guestkit-worker
        </a>
        <nav aria-label="Main">
          {NAV.map(([page, label, link]) => (
            <a key={page} href={link} aria-current={active === page ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        {session.token() && (
          <button
            type="button"
            class="secondary small"
            onClick={() => {
              session.clear();
              setGeneration((g) => g + 1);
            }}
          >
            Sign out
          </button>
        )}
      </header>
      <main id="main" ref={main} tabIndex={-1} key={generation}>
        {unauthorized ? (
          <Login
            rejected={session.token() !== ''}
            onLogin={() => {
              setUnauthorized(false);
              setGeneration((g) => g + 1);
            }}
          />
        ) : (
          <Page route={route} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
