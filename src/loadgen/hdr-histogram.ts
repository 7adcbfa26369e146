/**
 * An HDR histogram (after Gil Tene's HdrHistogram) of non-negative integers, here latencies in
 * microseconds: log-linear buckets with 3 significant digits, so any value it reports is within
 * 0.1 % of a value it recorded, over a range of 1 µs to about an hour in 188 KiB.
 *
 * Layout: bucket 0 counts 0..2047 one by one; bucket b ≥ 1 counts 2^(b+10)..2^(b+11)-1 in 1024
 * steps of 2^b. The counts live in one Float64Array (exact integers to 2^53) followed by four
 * totals (count, min, max, sum), so the array can sit on a SharedArrayBuffer that a load
 * thread writes and the main thread reads, and two histograms of the same range merge by adding
 * their arrays (docs/load-testing.md).
 */

const SUB_BUCKET_BITS = 11; // 2^11 = 2048 > 2 × 10^3: three significant digits
const SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS;
const SUB_BUCKET_HALF_BITS = SUB_BUCKET_BITS - 1;
const SUB_BUCKET_HALF = 1 << SUB_BUCKET_HALF_BITS;
const TOTALS = 4;
const TWO_32 = 2 ** 32;

/** DEFAULT_HIGHEST_US is the default largest trackable value: one hour in microseconds. */
export const DEFAULT_HIGHEST_US = 3_600_000_000;

/** bucketCountFor is the number of buckets that reach `highest`. */
function bucketCountFor(highest: number): number {
  let smallestUntrackable = SUB_BUCKET_COUNT;
  let buckets = 1;
  while (smallestUntrackable <= highest) {
    smallestUntrackable *= 2;
    buckets++;
  }
  return buckets;
}

/** msb is the index of the highest set bit of a positive safe integer. */
function msb(v: number): number {
  return v < TWO_32 ? 31 - Math.clz32(v) : 63 - Math.clz32(Math.floor(v / TWO_32));
}

/** HdrHistogram records integer values and answers percentiles with 3 significant digits. */
export class HdrHistogram {
  /** highest is the largest value recorded as itself; larger values count as `highest`. */
  readonly highest: number;
  /** counts holds the bucket counts, then count, min, max and sum. */
  readonly counts: Float64Array;
  readonly #length: number;

  /**
   * The histogram's storage is a fresh array, or `buffer` (shared with another thread) when
   * given; `buffer` must hold HdrHistogram.bytesFor(highest) bytes.
   */
  constructor(highest = DEFAULT_HIGHEST_US, buffer?: ArrayBufferLike) {
    if (!Number.isSafeInteger(highest) || highest < SUB_BUCKET_COUNT) throw new RangeError(`highest must be an integer of at least ${SUB_BUCKET_COUNT}, not ${highest}`);
    this.highest = highest;
    this.#length = (bucketCountFor(highest) + 1) * SUB_BUCKET_HALF;
    const bytes = HdrHistogram.bytesFor(highest);
    if (buffer !== undefined && buffer.byteLength !== bytes) throw new RangeError(`buffer holds ${buffer.byteLength} bytes, the histogram needs ${bytes}`);
    this.counts = buffer === undefined ? new Float64Array(this.#length + TOTALS) : new Float64Array(buffer);
    if (this.totalCount === 0) this.counts[this.#length + 1] = Infinity;
  }

  /** bytesFor is the storage size of a histogram tracking up to `highest`. */
  static bytesFor(highest = DEFAULT_HIGHEST_US): number {
    return ((bucketCountFor(highest) + 1) * SUB_BUCKET_HALF + TOTALS) * Float64Array.BYTES_PER_ELEMENT;
  }

  /** totalCount is the number of values recorded. */
  get totalCount(): number {
    return this.counts[this.#length] ?? 0;
  }

  /** min is the smallest value recorded (exact; 0 when empty). */
  get min(): number {
    return this.totalCount === 0 ? 0 : (this.counts[this.#length + 1] ?? 0);
  }

  /** max is the largest value recorded (exact, after clamping to `highest`; 0 when empty). */
  get max(): number {
    return this.counts[this.#length + 2] ?? 0;
  }

  /** mean is the exact mean of the values recorded (NaN when empty). */
  get mean(): number {
    return (this.counts[this.#length + 3] ?? 0) / this.totalCount;
  }

  /** record counts `value` (rounded to an integer, clamped to 0..highest) `count` times. */
  record(value: number, count = 1): void {
    const v = value <= 0 ? 0 : value >= this.highest ? this.highest : Math.round(value);
    const c = this.counts;
    const i = indexOf(v);
    c[i] = (c[i] ?? 0) + count;
    const n = this.#length;
    c[n] = (c[n] ?? 0) + count;
    if (v < (c[n + 1] ?? Infinity)) c[n + 1] = v;
    if (v > (c[n + 2] ?? 0)) c[n + 2] = v;
    c[n + 3] = (c[n + 3] ?? 0) + v * count;
  }

  /** merge adds every count of `other` (of the same range) to this histogram. */
  merge(other: HdrHistogram): void {
    this.#sameRange(other);
    const a = this.counts;
    const b = other.counts;
    const n = this.#length;
    for (let i = 0; i < n; i++) {
      const x = b[i] ?? 0;
      if (x !== 0) a[i] = (a[i] ?? 0) + x;
    }
    if (other.totalCount === 0) return;
    a[n] = (a[n] ?? 0) + other.totalCount;
    a[n + 1] = Math.min(a[n + 1] ?? Infinity, other.min);
    a[n + 2] = Math.max(a[n + 2] ?? 0, other.max);
    a[n + 3] = (a[n + 3] ?? 0) + (b[n + 3] ?? 0);
  }

  /**
   * since returns what was recorded after `earlier`, a copy of this histogram taken before
   * (the live progress line's last second). Its min and max are the bucket bounds, not exact.
   */
  since(earlier: HdrHistogram): HdrHistogram {
    this.#sameRange(earlier);
    const out = new HdrHistogram(this.highest);
    const n = this.#length;
    const c = out.counts;
    let total = 0;
    let sum = 0;
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const d = (this.counts[i] ?? 0) - (earlier.counts[i] ?? 0);
      if (d <= 0) continue;
      const lo = valueFromIndex(i);
      const hi = highestEquivalent(lo);
      c[i] = d;
      total += d;
      sum += d * (lo + (hi - lo) / 2);
      if (lo < min) min = lo;
      max = hi;
    }
    c[n] = total;
    c[n + 1] = min;
    c[n + 2] = max;
    c[n + 3] = sum;
    return out;
  }

  /** copy returns an independent histogram with the same counts. */
  copy(): HdrHistogram {
    const out = new HdrHistogram(this.highest);
    out.counts.set(this.counts);
    return out;
  }

  /**
   * valueAt returns the value at `percentile` (0..100) by the nearest-rank rule: the smallest
   * recorded value with at least that share of all values at or below it, reported as the
   * highest value of its bucket (never below the exact one, at most 0.1 % above it), capped
   * at the exact max. 0 when empty.
   */
  valueAt(percentile: number): number {
    const total = this.totalCount;
    if (total === 0) return 0;
    const p = Math.min(100, Math.max(0, percentile));
    const rank = Math.max(1, Math.min(total, Math.ceil((p / 100) * total - 1e-9)));
    let seen = 0;
    const c = this.counts;
    for (let i = 0; i < this.#length; i++) {
      seen += c[i] ?? 0;
      if (seen >= rank) return Math.min(highestEquivalent(valueFromIndex(i)), this.max);
    }
    return this.max;
  }

  /** stdDev is the standard deviation, from bucket midpoints (NaN when empty). */
  get stdDev(): number {
    const total = this.totalCount;
    if (total === 0) return NaN;
    const mean = this.mean;
    let sq = 0;
    for (let i = 0; i < this.#length; i++) {
      const k = this.counts[i] ?? 0;
      if (k === 0) continue;
      const lo = valueFromIndex(i);
      const d = lo + (highestEquivalent(lo) - lo) / 2 - mean;
      sq += d * d * k;
    }
    return Math.sqrt(sq / total);
  }

  #sameRange(other: HdrHistogram): void {
    if (other.highest !== this.highest) throw new RangeError(`cannot combine histograms of different ranges (${this.highest} and ${other.highest})`);
  }
}

/** indexOf is the counts index of a value in 0..highest. */
function indexOf(v: number): number {
  const bucket = msb(Math.max(v, SUB_BUCKET_COUNT - 1)) - SUB_BUCKET_HALF_BITS;
  return (bucket << SUB_BUCKET_HALF_BITS) + Math.floor(v / 2 ** bucket);
}

/** valueFromIndex is the lowest value counted at `index`. */
function valueFromIndex(index: number): number {
  let bucket = (index >> SUB_BUCKET_HALF_BITS) - 1;
  let sub = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
  if (bucket < 0) {
    sub -= SUB_BUCKET_HALF;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/** highestEquivalent is the highest value counted in the same bucket step as `v`. */
function highestEquivalent(v: number): number {
  const bucket = msb(Math.max(v, SUB_BUCKET_COUNT - 1)) - SUB_BUCKET_HALF_BITS;
  return v + 2 ** bucket - 1;
}
