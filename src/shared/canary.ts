/**
 * ingress-nginx canaries (issue 15 group 5, docs/annotations.md "Canaries"): whether one request
 * goes to a route's canary backend. Pure and shared by the workers (which act on it,
 * worker/proxy/canary.ts) and the explainer (which reports it). The order is ingress-nginx's
 * (balancer.lua route_to_alternative_balancer): the header, then the cookie, then the weight.
 */
import { RE2JS } from 're2js';

/** RouteCanary is a canary Ingress's backend for the same host and path, and when it is used. */
export interface RouteCanary {
  /** The canary's backend id (present in the snapshot's backends). */
  readonly backend: string;
  /** The canary Ingress as `namespace/name`. */
  readonly source: string;
  /** `canary-by-header`: the field name, lower-case; absent: no header rule. */
  readonly header?: string;
  /** `canary-by-header-value`: the header's value sends to the canary (then "always"/"never" are plain values). */
  readonly headerValue?: string;
  /** `canary-by-header-pattern` (RE2, unanchored; only without a value): a matching header value sends to the canary. */
  readonly headerPattern?: string;
  /** `canary-by-cookie`: the cookie name, lower-case; "always"/"never" decide. */
  readonly cookie?: string;
  /** `canary-weight`: this many requests of `weightTotal` go to the canary. */
  readonly weight: number;
  /** The total the weight is out of: `canary-weight-total` when above 100, else 100 (as ingress-nginx). */
  readonly weightTotal: number;
}

/** CanaryRule is what decided: the header, the cookie, or (undefined from canaryByRequest) the weight. */
export type CanaryRule = 'header' | 'cookie';

/** CanaryVerdict is the header's or cookie's decision. */
export interface CanaryVerdict {
  readonly canary: boolean;
  readonly rule: CanaryRule;
  /** The value that decided. */
  readonly value: string;
}

const patterns = new WeakMap<RouteCanary, RE2JS | null>();

/**
 * canaryByRequest is the header's or the cookie's decision for a request, or null when neither
 * decides and the weight does. `field` gives a request field's value (lower-case name), undefined
 * when absent; `cookie` a cookie's value, undefined when absent.
 */
export function canaryByRequest(c: RouteCanary, field: (name: string) => string | undefined, cookie: (name: string) => string | undefined): CanaryVerdict | null {
  if (c.header !== undefined) {
    const value = field(c.header);
    if (value !== undefined) {
      if (c.headerValue !== undefined) {
        if (value === c.headerValue) return { canary: true, rule: 'header', value };
      } else if (c.headerPattern !== undefined) {
        let re = patterns.get(c);
        if (re === undefined) {
          re = compilePattern(c.headerPattern);
          patterns.set(c, re);
        }
        if (re !== null && re.matcher(value).find()) return { canary: true, rule: 'header', value };
      } else if (value === 'always') return { canary: true, rule: 'header', value };
      else if (value === 'never') return { canary: false, rule: 'header', value };
    }
  }
  if (c.cookie !== undefined) {
    const value = cookie(c.cookie);
    if (value === 'always') return { canary: true, rule: 'cookie', value };
    if (value === 'never') return { canary: false, rule: 'cookie', value };
  }
  return null;
}

/** compilePattern compiles a header pattern as RE2, or null when RE2 cannot (the compiler reported it). */
export function compilePattern(pattern: string): RE2JS | null {
  try {
    return RE2JS.compile(pattern);
  } catch {
    return null;
  }
}

/**
 * weightTurn says whether the `n`-th request (from 0) that the weight decides goes to the canary:
 * exactly `weight` of every `weightTotal` consecutive ones, spread evenly (the n-th goes when
 * ⌊(n+1)·w/T⌋ passes ⌊n·w/T⌋), where ingress-nginx draws at random with the same odds.
 */
export function weightTurn(c: RouteCanary, n: number): boolean {
  const w = c.weight;
  const t = c.weightTotal;
  if (w <= 0) return false;
  if (w >= t) return true;
  return Math.floor(((n % t) + 1) * w / t) > Math.floor((n % t) * w / t);
}
