// Reservations of the appliance pool: drives of jobs still pending in a worker's queue, held so
// the next launch of their group can attach them and the job, once it runs, finds its drive in a
// running appliance instead of waiting for a launch of its own. Pure bookkeeping; the pool
// (pool.ts) decides when reservations are attached, claimed and voided.
import type { ProbedDrive } from './types.js';

export interface Reservation<H> {
  /** The job's id (what `run({ reservation })` names). */
  readonly key: string;
  /** Resolved, confined and probed drives, in the job's order. */
  readonly drives: readonly ProbedDrive[];
  readonly group: string;
  /** Which reserve() call made it (a later one for the same key replaces it). */
  readonly token: symbol;
  /** The appliance (pool batch) its drives were added to; undefined while none. */
  holder: H | undefined;
  /** Its drives' devices in the holder, once that launched. */
  devices: string[] | undefined;
}

/** Same drives in the same order: resolved path, detected format and readonly flag. */
export function sameDrives(a: readonly ProbedDrive[], b: readonly ProbedDrive[]): boolean {
  return (
    a.length === b.length &&
    a.every((d, i) => d.path === b[i].path && d.format === b[i].format && d.readonly === b[i].readonly)
  );
}

export class ReservationBook<H> {
  /** Insertion order is age order: `waiting` hands out the oldest first. */
  readonly #held = new Map<string, Reservation<H>>();
  /** Reservations whose drives are still being probed; a release in between voids them. */
  readonly #probing = new Map<string, symbol>();

  /** Starts a reservation for `key` (replacing an older one); `add` needs the token. */
  begin(key: string): symbol {
    this.take(key);
    const token = Symbol(key);
    this.#probing.set(key, token);
    return token;
  }

  /** Registers the probed drives, unless `key` was released or begun again meanwhile. */
  add(token: symbol, key: string, drives: readonly ProbedDrive[], group: string): boolean {
    if (this.#probing.get(key) !== token) return false;
    this.#probing.delete(key);
    this.#held.set(key, { key, drives, group, token, holder: undefined, devices: undefined });
    return true;
  }

  /** The token of `key`'s reservation (probing or held). */
  tokenOf(key: string): symbol | undefined {
    return this.#probing.get(key) ?? this.#held.get(key)?.token;
  }

  get(key: string): Reservation<H> | undefined {
    return this.#held.get(key);
  }

  /** Forgets `key` (claimed, released or voided): the reservation it held, if any. */
  take(key: string): Reservation<H> | undefined {
    this.#probing.delete(key);
    const r = this.#held.get(key);
    this.#held.delete(key);
    return r;
  }

  /** Reservations of `group` no appliance holds yet, oldest first. */
  waiting(group: string): Reservation<H>[] {
    return [...this.#held.values()].filter((r) => r.holder === undefined && r.group === group);
  }

  /** Reservations `holder` holds and no job has claimed yet. */
  of(holder: H): Reservation<H>[] {
    return [...this.#held.values()].filter((r) => r.holder === holder);
  }

  /** A reservation held by a live appliance for exactly these drives (another job's, when no key). */
  find(
    drives: readonly ProbedDrive[],
    group: string,
    live: (holder: H) => boolean,
  ): Reservation<H> | undefined {
    for (const r of this.#held.values()) {
      if (r.holder !== undefined && r.group === group && live(r.holder) && sameDrives(r.drives, drives))
        return r;
    }
    return undefined;
  }

  clear(): void {
    this.#held.clear();
    this.#probing.clear();
  }
}
