/**
 * Path matching within one virtual host. Two implementations share one contract: a linear
 * scan (best for the usual handful of routes) and a map keyed by prefix (one lookup per path
 * element, whatever the number of routes).
 */
import type { PathMatch } from '../../shared/snapshot.js';

/** PathRule is one path of a virtual host with the value a match returns. */
export interface PathRule<T> {
  readonly match: PathMatch;
  readonly path: string;
  readonly value: T;
}

/**
 * PathMatcher picks the value of the best rule for a path: an Exact rule equal to the path,
 * otherwise the longest Prefix rule matching whole path elements, otherwise null.
 */
export interface PathMatcher<T> {
  readonly name: string;
  match(path: string): T | null;
}

/** PathMatcherFactory builds a PathMatcher from a virtual host's rules, in any order. */
export type PathMatcherFactory = <T>(rules: readonly PathRule<T>[]) => PathMatcher<T>;

/**
 * prefixKey is the stored form of a Prefix path: without trailing slashes, so `/aaa/bbb/`
 * and `/aaa/bbb` are the same rule (Ingress v1); `/` stays `/`. Returns null for a path that
 * does not start with `/` (it can never match a request).
 */
export function prefixKey(path: string): string | null {
  if (path.charCodeAt(0) !== 0x2f) return null;
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  return end === path.length ? path : path.slice(0, end);
}

/**
 * prefixMatches says whether the stored Prefix key matches the request path element-wise:
 * `/foo` matches `/foo`, `/foo/` and `/foo/bar`, never `/foobar`; `/` matches everything.
 */
export function prefixMatches(key: string, path: string): boolean {
  if (key.length === 1) return true; // `/`
  return path.startsWith(key) && (path.length === key.length || path.charCodeAt(key.length) === 0x2f);
}

interface Split<T> {
  readonly exact: PathRule<T>[];
  readonly prefix: { readonly key: string; readonly value: T }[];
}

/** splitRules separates Exact and Prefix rules, drops unusable ones and orders prefixes longest first. */
function splitRules<T>(rules: readonly PathRule<T>[]): Split<T> {
  const exact: PathRule<T>[] = [];
  const prefix: { key: string; value: T }[] = [];
  for (const r of rules) {
    if (r.match === 'Exact') {
      if (r.path.charCodeAt(0) === 0x2f) exact.push(r);
    } else {
      const key = prefixKey(r.path);
      if (key !== null) prefix.push({ key, value: r.value });
    }
  }
  // Stable sort: equal keys keep table order, so the first rule for a key wins everywhere.
  prefix.sort((a, b) => b.key.length - a.key.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { exact, prefix };
}

/** LinearPathMatcher scans the Exact rules, then the Prefix rules longest first. */
export class LinearPathMatcher<T> implements PathMatcher<T> {
  readonly name = 'linear';
  readonly #exactPaths: string[];
  readonly #exactValues: T[];
  readonly #prefixKeys: string[];
  readonly #prefixValues: T[];

  constructor(rules: readonly PathRule<T>[]) {
    const { exact, prefix } = splitRules(rules);
    this.#exactPaths = exact.map((r) => r.path);
    this.#exactValues = exact.map((r) => r.value);
    this.#prefixKeys = prefix.map((r) => r.key);
    this.#prefixValues = prefix.map((r) => r.value);
  }

  match(path: string): T | null {
    const ep = this.#exactPaths;
    for (let i = 0; i < ep.length; i++) if (ep[i] === path) return this.#exactValues[i] as T;
    const pk = this.#prefixKeys;
    for (let i = 0; i < pk.length; i++) if (prefixMatches(pk[i] as string, path)) return this.#prefixValues[i] as T;
    return null;
  }
}

/**
 * PrefixMapPathMatcher looks the path up in a map of Exact paths, then looks up each of its
 * element prefixes, longest first, in a map of Prefix keys: O(path elements) per request,
 * independent of the number of rules.
 */
export class PrefixMapPathMatcher<T> implements PathMatcher<T> {
  readonly name = 'prefix-map';
  readonly #exact = new Map<string, T>();
  readonly #prefix = new Map<string, T>();
  readonly #root: T | null = null;

  constructor(rules: readonly PathRule<T>[]) {
    const { exact, prefix } = splitRules(rules);
    for (const r of exact) if (!this.#exact.has(r.path)) this.#exact.set(r.path, r.value);
    let root: T | null = null;
    for (const r of prefix) {
      if (r.key === '/') root ??= r.value;
      else if (!this.#prefix.has(r.key)) this.#prefix.set(r.key, r.value);
    }
    this.#root = root;
  }

  match(path: string): T | null {
    const exact = this.#exact.get(path);
    if (exact !== undefined) return exact;
    const prefix = this.#prefix;
    if (prefix.size > 0) {
      const whole = prefix.get(path);
      if (whole !== undefined) return whole;
      for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
        const hit = prefix.get(path.slice(0, i));
        if (hit !== undefined) return hit;
      }
    }
    return this.#root;
  }
}

/** LINEAR_LIMIT is the rule count up to which a linear scan beats hashing every path element. */
const LINEAR_LIMIT = 8;

/** createPathMatcher picks the implementation by size: linear for small hosts, the prefix map otherwise. */
export const createPathMatcher: PathMatcherFactory = (rules) =>
  rules.length <= LINEAR_LIMIT ? new LinearPathMatcher(rules) : new PrefixMapPathMatcher(rules);

/** linearPathMatcher always builds a LinearPathMatcher. */
export const linearPathMatcher: PathMatcherFactory = (rules) => new LinearPathMatcher(rules);

/** prefixMapPathMatcher always builds a PrefixMapPathMatcher. */
export const prefixMapPathMatcher: PathMatcherFactory = (rules) => new PrefixMapPathMatcher(rules);
