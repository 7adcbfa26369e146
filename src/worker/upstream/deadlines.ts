/**
 * Deadlines: one coarse timer for every upstream timeout of a worker (connect, response, idle,
 * keep-alive expiry, pool queue wait) instead of a Node timer per request and phase.
 *
 * Arming or moving a deadline is a field write; a tick, while anything is armed, fires the
 * expired ones. The tick is a hundredth of the shortest timeout the client uses (clamped to
 * 5 ms..1 s), so a timeout fires within 1 % of its setting plus event-loop lag (issue 14 item 7:
 * at a twenty-fifth, a 3 s response timeout fired up to 4.4 % late; bench/load/timeouts.mjs,
 * docs/upstream-client.md); undici's per-request timers fired 17 % late here (issue 13).
 */

/** Expiring is something with one deadline; `onDeadline` runs once when it passes. */
export interface Expiring {
  /** performance.now() value at which it expires; managed by Deadlines. */
  deadlineAt: number;
  /** Position in the armed list (-1: not armed); managed by Deadlines. */
  deadlineIndex: number;
  onDeadline(): void;
}

/** tickFor returns the tick for a shortest timeout of `shortestMs`. */
export function tickFor(shortestMs: number): number {
  return Math.min(1000, Math.max(5, Math.floor(shortestMs / 100)));
}

/** Deadlines holds the armed deadlines and the one interval timer that checks them. */
export class Deadlines {
  readonly tickMs: number;
  readonly #armed: Expiring[] = [];
  #timer: NodeJS.Timeout | null = null;
  readonly #now: () => number;

  /** `now` is injectable for tests (performance.now by default). */
  constructor(tickMs: number, now: () => number = () => performance.now()) {
    this.tickMs = tickMs;
    this.#now = now;
  }

  /** size is the number of armed deadlines. */
  get size(): number {
    return this.#armed.length;
  }

  /** arm sets (or moves) `e`'s deadline to `ms` from now. */
  arm(e: Expiring, ms: number): void {
    e.deadlineAt = this.#now() + ms;
    if (e.deadlineIndex >= 0) return;
    e.deadlineIndex = this.#armed.length;
    this.#armed.push(e);
    if (this.#timer === null) {
      this.#timer = setInterval(this.#tick, this.tickMs);
      this.#timer.unref();
    }
  }

  /** disarm removes `e`'s deadline (a no-op when it has none). */
  disarm(e: Expiring): void {
    const i = e.deadlineIndex;
    if (i < 0) return;
    const armed = this.#armed;
    const last = armed.pop() as Expiring;
    if (last !== e) {
      armed[i] = last;
      last.deadlineIndex = i;
    }
    e.deadlineIndex = -1;
    // The timer stops at its next tick when nothing is armed, not here: a keep-alive connection
    // disarms and re-arms on every request, and an interval per request would cost more than it saves.
  }

  /** check fires every deadline that passed (the tick runs it; tests call it directly). */
  check(): void {
    const now = this.#now();
    const armed = this.#armed;
    for (let i = 0; i < armed.length; ) {
      const e = armed[i] as Expiring;
      if (e.deadlineAt > now) {
        i++;
        continue;
      }
      this.disarm(e); // moves the last entry to i: look at i again
      try {
        e.onDeadline();
      } catch {
        // onDeadline implementations catch their own errors; a throw here must not stop the others.
      }
    }
  }

  readonly #tick = (): void => {
    this.check();
    if (this.#armed.length === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  };
}
