/**
 * StatusCounts counts requests by exact status code and method for one route, with a bound:
 * the first MAX_STATUS_CODES distinct codes (100 to 599) a route answers get a row each; any
 * further code, and any code outside 100 to 599, counts in its class's overflow row (label
 * `5xx` and so on). So a route has at most MAX_STATUS_CODES + 5 status label values however
 * its backends answer, and a query on `status=~"5.."` still sees every 5xx answer. Workers
 * count into one and the primary adds into another, each keeping its own bound.
 */

/** MAX_STATUS_CODES is how many exact status codes one route counts before the overflow rows. */
export const MAX_STATUS_CODES = 16;

/**
 * overflowKey is the row key of a status that gets no row of its own: its class digit (1 to 5;
 * a status outside 100 to 599 counts as 5xx, as statusClassIndex does).
 */
export function overflowKey(status: number): number {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? c : 5;
}

/** isExactStatus says whether a status gets a row of its own while the bound allows. */
export function isExactStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 100 && status <= 599;
}

/** statusLabel renders a row key as the `status` label value: `404`, or `5xx` for an overflow row. */
export function statusLabel(key: number): string {
  return key >= 100 ? String(key) : `${key}xx`;
}

/** statusClassOfKey is the index in STATUS_CLASSES (0 for 1xx … 4 for 5xx) of a row key. */
export function statusClassOfKey(key: number): number {
  return (key >= 100 ? Math.floor(key / 100) : key) - 1;
}

/** StatusCounts holds one row of per-method counts per status key. */
export class StatusCounts {
  /** keys[i] is the status of rows[i]: an exact code, or a class digit 1 to 5 for an overflow row. */
  readonly keys: number[] = [];
  readonly rows: Float64Array[] = [];
  readonly #methods: number;
  #exact = 0;

  constructor(methods: number) {
    this.#methods = methods;
  }

  /**
   * index returns the row of `status`, creating it on first use. The common case, a status the
   * route already answered, is a scan of a few numbers.
   */
  index(status: number): number {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === status) return i;
    return this.#add(status);
  }

  /** add adds `n` to the cell of `status` and method index `method`. */
  add(status: number, method: number, n: number): void {
    (this.rows[this.index(status)] as Float64Array)[method]! += n;
  }

  /** total is the sum of every cell. */
  total(): number {
    let n = 0;
    for (const row of this.rows) for (const v of row) n += v;
    return n;
  }

  /** toTriples flattens the non-zero cells as [status key, method, count, …]. */
  toTriples(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i] as Float64Array;
      for (let m = 0; m < row.length; m++) if (row[m] !== 0) out.push(this.keys[i] as number, m, row[m] as number);
    }
    return out;
  }

  /** reset zeroes every cell; the rows stay, so the bound holds for the life of the object. */
  reset(): void {
    for (const row of this.rows) row.fill(0);
  }

  #add(status: number): number {
    let key = status;
    if (isExactStatus(status) && this.#exact < MAX_STATUS_CODES) this.#exact++;
    else {
      // A class digit (an overflow row added up from a worker's flush) stays itself.
      key = Number.isInteger(status) && status >= 1 && status <= 5 ? status : overflowKey(status);
      const i = this.keys.indexOf(key);
      if (i >= 0) return i;
    }
    this.keys.push(key);
    this.rows.push(new Float64Array(this.#methods));
    return this.keys.length - 1;
  }
}
