// Hash routes (#/jobs/<id>): the server only ever serves `/`, and links work without it knowing
// the page structure.
import { useEffect, useState } from 'preact/hooks';
import { parseRoute, type Route } from './routes.js';

export { href, parseRoute, type Route } from './routes.js';

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
