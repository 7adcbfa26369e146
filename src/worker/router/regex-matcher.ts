/**
 * Path matching for a regex host (ingress-nginx `use-regex` / `rewrite-target`, issue 15): every
 * route's path is a regular expression matched case-insensitively from the start of the request
 * path (nginx `location ~* "^path"`), tried in table order, and the first match wins. The
 * compiler put the routes in ingress-nginx's order (longest path text first).
 *
 * The engine is RE2 (re2js): matching is linear in the path's length whatever the pattern, so
 * no pattern an Ingress author writes can stall a worker (no catastrophic backtracking); the
 * compiler refused the patterns RE2 has no meaning for (backreferences, lookaround).
 */
import { RE2JS } from 're2js';
import type { PathMatcher, PathRule } from './path-matcher.js';

/** RegexPathMatcher tries each rule's pattern in order; a pattern that does not compile (never, after the compiler) never matches. */
export class RegexPathMatcher<T> implements PathMatcher<T> {
  readonly name = 'regex';
  readonly #patterns: RE2JS[] = [];
  readonly #values: T[] = [];

  constructor(rules: readonly PathRule<T>[]) {
    for (const r of rules) {
      let re: RE2JS;
      try {
        re = RE2JS.compile(`(?i)^${r.path}`);
      } catch {
        continue;
      }
      this.#patterns.push(re);
      this.#values.push(r.value);
    }
  }

  match(path: string): T | null {
    const p = this.#patterns;
    // test() runs RE2's DFA without captures (about ten times faster than a Matcher); the
    // pattern is anchored with ^, so finding it is matching at the start.
    for (let i = 0; i < p.length; i++) if ((p[i] as RE2JS).test(path)) return this.#values[i] as T;
    return null;
  }
}
