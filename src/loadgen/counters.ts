/**
 * The layout of a load thread's counters: one Float64Array on a SharedArrayBuffer that the
 * thread writes and the main thread reads (once a second for progress, and at the end).
 * Float64 holds exact integers to 2^53; each slot has one writer.
 */

/** ERROR_KINDS are the kinds of failed request, in report order. */
export const ERROR_KINDS = ['connect', 'timeout', 'reset', 'parse'] as const;
/** ErrorKind is one kind of failed request. */
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Slot names the index of each counter. */
export const Slot = {
  /** Requests answered with a whole response. */
  answered: 0,
  /** Bytes read from the target (heads and bodies). */
  bytesRead: 1,
  /** Connections opened (connected), including reconnects. */
  connections: 2,
  /** Requests in flight when the run was stopped at its deadline (not counted anywhere else). */
  abandoned: 3,
  /** First of the error counters, in ERROR_KINDS order. */
  errors: 4,
  /** First of the status counters: slot statusBase + code for codes 100..999. */
  statusBase: 8,
} as const;

/** COUNTER_SLOTS is the length of the counters array. */
export const COUNTER_SLOTS = Slot.statusBase + 1000;

/** errorSlot is the counter slot of an error kind. */
export function errorSlot(kind: ErrorKind): number {
  return Slot.errors + ERROR_KINDS.indexOf(kind);
}
