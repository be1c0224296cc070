// Metrics of the explore sessions (src/explore): how many are open, the appliances they hold,
// and how many opened and closed, by why they closed. Registered only beside a worker that
// serves explore sessions (the daemon), so the job metrics of the spec stay as they are.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ExploreSessionEvents, ExploreSessions } from '../explore/sessions.js';

export const EXPLORE_METRIC_NAMES = [
  'guestkit_explore_sessions',
  'guestkit_explore_appliances',
  'guestkit_explore_sessions_opened_total',
  'guestkit_explore_sessions_closed_total',
] as const;

const REASONS: ExploreSessionEvents['closed'][1][] = ['closed', 'expired', 'shutdown', 'appliance'];

/** Registers the explore metrics on `registry`; the function returned stops listening. */
export function registerExploreMetrics(registry: Registry, sessions: ExploreSessions): () => void {
  const registers = [registry];
  new Gauge({
    name: 'guestkit_explore_sessions',
    help: 'Explore sessions open',
    registers,
    collect() {
      this.set(sessions.size);
    },
  });
  new Gauge({
    name: 'guestkit_explore_appliances',
    help: 'Appliances running for explore sessions (0 once every session is closed)',
    registers,
    collect() {
      this.set(sessions.appliances());
    },
  });
  const opened = new Counter({
    name: 'guestkit_explore_sessions_opened_total',
    help: 'Explore sessions opened',
    registers,
  });
  const closed = new Counter({
    name: 'guestkit_explore_sessions_closed_total',
    help: 'Explore sessions closed, by reason (closed: DELETE; expired: idle past the TTL; shutdown; appliance: it died)',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of REASONS) closed.inc({ reason }, 0);
  const onOpened = () => opened.inc();
  const onClosed = (_id: string, reason: ExploreSessionEvents['closed'][1]) => closed.inc({ reason });
  sessions.on('opened', onOpened);
  sessions.on('closed', onClosed);
  return () => {
    sessions.off('opened', onOpened);
    sessions.off('closed', onClosed);
  };
}
