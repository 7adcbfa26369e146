/**
 * The explainer on routes with ingress-nginx annotations (issue 15): a regex host is walked in
 * table order with the workers' matching, and the chosen route's annotations are said: redirected,
 * rewritten, CORS preflighted, and why.
 */
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import { annotationsInForce } from '../../../src/primary/explain-annotations.js';
import type { Route, RoutePolicy, RoutingTable } from '../../../src/shared/snapshot.js';

const route = (path: string, policy?: RoutePolicy, regex = false): Route => ({ match: 'Prefix', path, backend: 'ns/web:80', source: 'ns/web', ...(regex ? { regex: true as const } : {}), ...(policy === undefined ? {} : { policy }) });
const CORS = { origins: ['https://a.test'], methods: 'GET', headers: 'X-A', exposeHeaders: '', credentials: true, maxAgeSeconds: 5 };
const table: RoutingTable = {
  hosts: [
    { host: 'regex.test', routes: [route('/something(/|$)(.*)', { rewrite: { pattern: '/something(/|$)(.*)', target: '/$2' }, forwardedPrefix: '/something' }, true), route('/', undefined, true)] },
    { host: 'redirect.test', routes: [route('/', { redirect: { code: 301, url: ['https://new.test', '$request_uri'] } })] },
    { host: 'root.test', routes: [route('/', { appRoot: '/app1', upstreamVhost: 'in.test' })] },
    { host: 'cors.test', routes: [route('/', { cors: CORS })] },
    { host: 'www.web.test', routes: [route('/', { hostRedirect: { host: 'web.test', code: 308 } })] },
  ],
  defaultBackend: null,
  backends: [],
};

describe('explainRoute with annotations', () => {
  it('walks a regex host in table order and says the rewrite', () => {
    const e = explainRoute(table, 'regex.test', '/SOMETHING/new?x=1');
    expect(e.candidates.map((c) => [c.path, c.verdict])).toEqual([
      ['/something(/|$)(.*)', 'chosen'],
      ['/', 'matches-but-loses'],
    ]);
    expect(e.summary).toContain('regex "/something(/|$)(.*)"');
    expect(e.annotations).toEqual([
      expect.stringContaining('regex host'),
      'rewritten: the backend gets /new?x=1 (rewrite-target "/$2" on path "/something(/|$)(.*)")',
      'X-Forwarded-Prefix: /something sent upstream (x-forwarded-prefix)',
    ]);
    expect(explainRoute(table, 'regex.test', '/other').candidates.map((c) => c.verdict)).toEqual(['no-match', 'chosen']);
  });

  it.each<[string, string, { method?: string; origin?: string }, string[]]>([
    ['redirect.test', '/a?b=1', {}, ['redirected: 301 to https://new.test/a?b=1 (permanent-redirect or temporal-redirect, with its code)']],
    ['root.test', '/', {}, ['redirected: 302 to http://root.test/app1 (app-root /app1: the path is "/")']],
    ['root.test', '/x', {}, ['Host sent upstream: in.test (upstream-vhost)', 'app-root /app1 applies only to the path "/"']],
    ['cors.test', '/', { method: 'OPTIONS', origin: 'https://a.test' }, ['CORS preflight answered 204 by Flusso (enable-cors: an OPTIONS from an allowed origin, https://a.test)']],
    ['cors.test', '/', { origin: 'https://a.test' }, ['CORS fields added to the response (enable-cors; origin https://a.test allowed)']],
    ['cors.test', '/', { method: 'OPTIONS', origin: 'https://b.test' }, ['no CORS fields: origin https://b.test is not in cors-allow-origin']],
    ['www.web.test', '/p/', {}, ['redirected: 308 to http://web.test/p (from-to-www-redirect: this name redirects to web.test)']],
  ])('%s%s %j', (host, path, traits, want) => {
    expect(explainRoute(table, host, path, traits).annotations).toEqual(want);
  });

  it('a route without annotations says nothing about them', () => {
    expect(explainRoute({ hosts: [{ host: 'plain.test', routes: [route('/')] }], defaultBackend: null, backends: [] }, 'plain.test', '/').annotations).toEqual([]);
  });
});

describe('annotationsInForce (the Routes view)', () => {
  it('lists each annotation in force, short', () => {
    expect(table.hosts.map((h) => annotationsInForce(h.routes[0] as Route))).toEqual([
      ['use-regex', 'rewrite-target /$2', 'x-forwarded-prefix /something'],
      ['redirect 301 https://new.test$request_uri'],
      ['app-root /app1', 'upstream-vhost in.test'],
      ['cors https://a.test'],
      ['from-to-www-redirect → web.test'],
    ]);
  });
});
