/**
 * Restart back-off: a worker that keeps dying is restarted ever more slowly (doubling from
 * `baseMs` up to `maxMs`), and one that lived `healthyAfterMs` before dying starts again from
 * the base, so one crash a day never waits the cap (docs/architecture.md, "Process model").
 */

/** RestartBackoff configures the delays. */
export interface RestartBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly healthyAfterMs: number;
}

/** DEFAULT_BACKOFF is 100 ms doubling to 30 s; a minute of life counts as healthy. */
export const DEFAULT_BACKOFF: RestartBackoff = { baseMs: 100, maxMs: 30_000, healthyAfterMs: 60_000 };

/** restartDelayMs is the wait before the restart after `failures` exits in a row (1: the first). */
export function restartDelayMs(failures: number, backoff: RestartBackoff): number {
  return Math.min(backoff.baseMs * 2 ** (Math.max(failures, 1) - 1), backoff.maxMs);
}

/** failuresAfterExit counts an exit after `livedMs`: 1 again after a healthy life, else one more. */
export function failuresAfterExit(previous: number, livedMs: number, backoff: RestartBackoff): number {
  return livedMs >= backoff.healthyAfterMs ? 1 : previous + 1;
}
