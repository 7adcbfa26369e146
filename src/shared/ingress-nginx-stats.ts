/**
 * The figures behind the opt-in ingress-nginx-compatible metric family
 * (`--metrics-ingress-nginx-compat`): per route, host (and path, with
 * `--metrics-ingress-nginx-path`), status and method, one cell of histograms with
 * ingress-nginx's default buckets. A worker observes into cells and ships the non-zero ones
 * with its StatsDelta; the primary adds them up. The layout is shared so both sides agree.
 */

/** TIME_BUCKETS_S are ingress-nginx's --time-buckets default (Prometheus DefBuckets), seconds. */
export const TIME_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** LENGTH_BUCKETS are ingress-nginx's --length-buckets default (10 to 100 by 10), bytes. */
export const LENGTH_BUCKETS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100] as const;
/** SIZE_BUCKETS are ingress-nginx's --size-buckets default (10 to 10^7, times 10), bytes. */
export const SIZE_BUCKETS = [10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000] as const;

/** CompatHistogram names a histogram of a cell and where it sits. */
export interface CompatHistogram {
  /** The metric name after `nginx_ingress_controller_`. */
  readonly name: string;
  readonly help: string;
  readonly bounds: readonly number[];
  /** Offset of the first bucket; the sum follows the +Inf bucket. */
  readonly offset: number;
}

const layout = (specs: readonly Omit<CompatHistogram, 'offset'>[]): { histograms: CompatHistogram[]; size: number } => {
  let offset = 0;
  const histograms = specs.map((s) => {
    const h = { ...s, offset };
    offset += s.bounds.length + 2; // buckets, +Inf, sum
    return h;
  });
  return { histograms, size: offset };
};

const { histograms, size } = layout([
  { name: 'request_duration_seconds', help: 'The request processing time in seconds (Flusso: request head read to last response byte).', bounds: TIME_BUCKETS_S },
  { name: 'header_duration_seconds', help: 'The time spent on receiving first header from the upstream server.', bounds: TIME_BUCKETS_S },
  { name: 'response_duration_seconds', help: 'The time spent on receiving the response from the upstream server (Flusso: until the last upstream body byte).', bounds: TIME_BUCKETS_S },
  { name: 'request_size', help: 'The request length (Flusso: request body bytes).', bounds: LENGTH_BUCKETS },
  { name: 'response_size', help: 'The response length (Flusso: response body bytes).', bounds: LENGTH_BUCKETS },
  { name: 'bytes_sent', help: 'DEPRECATED The number of bytes sent to a client (Flusso: response body bytes).', bounds: SIZE_BUCKETS },
]);

/** COMPAT_HISTOGRAMS are the histograms of one cell, in layout order. */
export const COMPAT_HISTOGRAMS: readonly CompatHistogram[] = histograms;
/** CELL_SIZE is the number of figures in one cell. */
export const CELL_SIZE = size;

const [REQ, HEADER, RESPONSE, REQ_SIZE, RESP_SIZE, SENT] = histograms.map((h) => h.offset) as [number, number, number, number, number, number];
const TIME_N = TIME_BUCKETS_S.length;
const LENGTH_N = LENGTH_BUCKETS.length;
const SIZE_N = SIZE_BUCKETS.length;

function bucket(bounds: readonly number[], v: number): number {
  for (let i = 0; i < bounds.length; i++) if (v <= (bounds[i] as number)) return i;
  return bounds.length;
}

/**
 * observe records one request in a cell. `headerSeconds` and `responseSeconds` are negative
 * when no upstream answered (an answer Flusso gave itself), as ingress-nginx skips `-1`.
 */
export function observe(cell: Float64Array, seconds: number, headerSeconds: number, responseSeconds: number, bytesIn: number, bytesOut: number): void {
  cell[REQ + bucket(TIME_BUCKETS_S, seconds)]! += 1;
  cell[REQ + TIME_N + 1]! += seconds;
  if (headerSeconds >= 0) {
    cell[HEADER + bucket(TIME_BUCKETS_S, headerSeconds)]! += 1;
    cell[HEADER + TIME_N + 1]! += headerSeconds;
  }
  if (responseSeconds >= 0) {
    cell[RESPONSE + bucket(TIME_BUCKETS_S, responseSeconds)]! += 1;
    cell[RESPONSE + TIME_N + 1]! += responseSeconds;
  }
  cell[REQ_SIZE + bucket(LENGTH_BUCKETS, bytesIn)]! += 1;
  cell[REQ_SIZE + LENGTH_N + 1]! += bytesIn;
  cell[RESP_SIZE + bucket(LENGTH_BUCKETS, bytesOut)]! += 1;
  cell[RESP_SIZE + LENGTH_N + 1]! += bytesOut;
  cell[SENT + bucket(SIZE_BUCKETS, bytesOut)]! += 1;
  cell[SENT + SIZE_N + 1]! += bytesOut;
}

/** requestsOf is the number of requests a cell counted (every request has a request duration). */
export function requestsOf(cell: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i <= TIME_N; i++) n += cell[REQ + i] as number;
  return n;
}

/** histogramCounts returns the per-bucket counts (with +Inf) and the sum of one histogram of a cell. */
export function histogramCounts(cell: Float64Array, h: CompatHistogram): { counts: Float64Array; sum: number } {
  return { counts: cell.subarray(h.offset, h.offset + h.bounds.length + 1), sum: cell[h.offset + h.bounds.length + 1] as number };
}
