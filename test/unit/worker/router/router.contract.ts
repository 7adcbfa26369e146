/**
 * The HostRouter contract, run against every implementation (router.test.ts). Each case
 * names the rule it pins down; README.md "Routing (Ingress v1)" is the source.
 */
import { describe, expect, it } from 'vitest';
import type { PathMatch, Route, RoutingTable, VirtualHost } from '../../../../src/shared/snapshot.js';
import type { HostRouter } from '../../../../src/worker/router/router.js';

/** RouterFactory builds the implementation under test from a routing table. */
export type RouterFactory = (table: RoutingTable) => HostRouter;

type Rule = readonly [PathMatch, string, string]; // match, path, backend

function route(match: PathMatch, path: string, backend: string): Route {
  return { match, path, backend, source: 'ns/ing' };
}

/** table builds a routing table from `{ host: [[match, path, backend], …] }`. */
export function table(hosts: Record<string, readonly Rule[]>, defaultBackend: string | null = null): RoutingTable {
  const vhosts: VirtualHost[] = Object.entries(hosts).map(([host, rules]) => ({
    host,
    routes: rules.map(([m, p, c]) => route(m, p, c)),
  }));
  return {
    hosts: vhosts,
    defaultBackend: defaultBackend === null ? null : route('Prefix', '/', defaultBackend),
    backends: [],
  };
}

/** runRouterContract registers the contract suite for one implementation. */
export function runRouterContract(name: string, create: RouterFactory): void {
  const backendOf = (r: HostRouter, host: string, path: string): string | null => r.match(host, path)?.route.backend ?? null;

  describe(`HostRouter contract: ${name}`, () => {
    it('has a name', () => {
      expect(create(table({})).name).toMatch(/\S/);
    });

    describe('host precedence: exact, then wildcard, then catch-all', () => {
      const r = create(
        table({
          'foo.com': [['Prefix', '/', 'exact']],
          '*.foo.com': [['Prefix', '/', 'wild']],
          '*': [['Prefix', '/', 'any']],
        }),
      );
      it.each([
        ['foo.com', 'exact'],
        ['bar.foo.com', 'wild'],
        ['a.bar.foo.com', 'any'], // the wildcard covers one label only
        ['other.com', 'any'],
        ['', 'any'], // an empty Host can only reach the catch-all
      ])('%s → %s', (host, want) => expect(backendOf(r, host, '/x')).toBe(want));

      it('reports the matched virtual host', () => {
        expect(r.match('foo.com', '/')?.vhost).toBe('foo.com');
        expect(r.match('bar.foo.com', '/')?.vhost).toBe('*.foo.com');
        expect(r.match('zzz', '/')?.vhost).toBe('*');
      });
    });

    it('wildcard matches exactly one extra label', () => {
      const r = create(table({ '*.foo.com': [['Prefix', '/', 'wild']] }));
      expect(backendOf(r, 'x.foo.com', '/')).toBe('wild');
      expect(backendOf(r, 'foo.com', '/')).toBeNull();
      expect(backendOf(r, 'a.b.foo.com', '/')).toBeNull();
      expect(backendOf(r, '.foo.com', '/')).toBeNull();
      expect(backendOf(r, 'xfoo.com', '/')).toBeNull();
    });

    it('host is case-insensitive, port and trailing dot are ignored', () => {
      const r = create(table({ 'foo.com': [['Prefix', '/', 'a']], '*.bar.com': [['Prefix', '/', 'w']] }));
      for (const host of ['FOO.com', 'foo.com:8080', 'foo.com.', 'Foo.Com.:80', 'foo.com:']) expect(backendOf(r, host, '/')).toBe('a');
      expect(backendOf(r, 'X.BAR.COM:443', '/')).toBe('w');
      expect(backendOf(r, 'foo.com:http', '/')).toBeNull(); // not a port: invalid authority
    });

    it('an IPv6 literal loses its port and reaches only the catch-all; a broken one matches nothing', () => {
      const r = create(table({ '*': [['Prefix', '/', 'any']] }, 'def'));
      expect(r.match('[::1]:80', '/')?.vhost).toBe('*');
      expect(r.match('[::1]', '/')?.vhost).toBe('*');
      expect(r.match('[::1', '/')?.vhost).toBeNull(); // default backend
      expect(backendOf(r, '[::1', '/')).toBe('def');
    });

    it('Exact beats Prefix for the same path; longer Prefix beats shorter', () => {
      const r = create(
        table({
          h: [
            ['Prefix', '/', 'root'],
            ['Prefix', '/foo', 'foo'],
            ['Prefix', '/foo/bar', 'foobar'],
            ['Exact', '/foo', 'exact-foo'],
          ],
        }),
      );
      expect(backendOf(r, 'h', '/foo')).toBe('exact-foo');
      expect(backendOf(r, 'h', '/foo/')).toBe('foo');
      expect(backendOf(r, 'h', '/foo/bar')).toBe('foobar');
      expect(backendOf(r, 'h', '/foo/bar/baz')).toBe('foobar');
      expect(backendOf(r, 'h', '/foo/barbaz')).toBe('foo');
      expect(backendOf(r, 'h', '/other')).toBe('root');
    });

    it('Prefix matches whole path elements', () => {
      const r = create(table({ h: [['Prefix', '/foo', 'foo']] }));
      for (const p of ['/foo', '/foo/', '/foo/bar', '/foo//x']) expect(backendOf(r, 'h', p)).toBe('foo');
      for (const p of ['/foobar', '/fo', '/', '/bar/foo']) expect(backendOf(r, 'h', p)).toBeNull();
    });

    it('Prefix `/` matches every path', () => {
      const r = create(table({ h: [['Prefix', '/', 'root']] }));
      for (const p of ['/', '/a', '/a/b/', '//x']) expect(backendOf(r, 'h', p)).toBe('root');
    });

    it('trailing slashes: a Prefix ignores its own, an Exact needs it', () => {
      const r = create(
        table({
          h: [
            ['Prefix', '/aaa/bbb/', 'p'],
            ['Exact', '/foo/', 'e'],
          ],
        }),
      );
      expect(backendOf(r, 'h', '/aaa/bbb')).toBe('p');
      expect(backendOf(r, 'h', '/aaa/bbb/')).toBe('p');
      expect(backendOf(r, 'h', '/aaa/bbbc')).toBeNull();
      expect(backendOf(r, 'h', '/foo/')).toBe('e');
      expect(backendOf(r, 'h', '/foo')).toBeNull();
    });

    it('paths are case-sensitive', () => {
      const r = create(table({ h: [['Prefix', '/Foo', 'p'], ['Exact', '/bar', 'e']] }));
      expect(backendOf(r, 'h', '/foo')).toBeNull();
      expect(backendOf(r, 'h', '/BAR')).toBeNull();
      expect(backendOf(r, 'h', '/Foo/x')).toBe('p');
    });

    it('falls back to the default backend, then null', () => {
      const withDefault = create(table({ h: [['Exact', '/x', 'x']] }, 'def'));
      expect(withDefault.match('h', '/y')).toEqual({ route: route('Prefix', '/', 'def'), vhost: null });
      expect(backendOf(withDefault, 'nothing', '/')).toBe('def');
      const without = create(table({ h: [['Exact', '/x', 'x']] }));
      expect(without.match('h', '/y')).toBeNull();
      expect(without.match('nothing', '/')).toBeNull();
    });

    it('never falls through from the chosen host to a less specific one', () => {
      const r = create(
        table(
          {
            'api.foo.com': [['Prefix', '/api', 'exact-host']],
            '*.foo.com': [['Prefix', '/', 'wild']],
            '*': [['Prefix', '/', 'any']],
          },
          'def',
        ),
      );
      expect(backendOf(r, 'api.foo.com', '/api/v1')).toBe('exact-host');
      expect(backendOf(r, 'api.foo.com', '/other')).toBe('def');
      const noDefault = create(table({ 'a.foo.com': [['Exact', '/x', 'x']], '*.foo.com': [['Prefix', '/', 'wild']] }));
      expect(noDefault.match('a.foo.com', '/y')).toBeNull();
    });

    it('handles 10,000 hosts', () => {
      const hosts: Record<string, Rule[]> = {};
      for (let i = 0; i < 10_000; i++) hosts[`h${i}.example.com`] = [['Prefix', `/p${i % 7}`, `c${i}`]];
      for (let i = 0; i < 100; i++) hosts[`*.w${i}.example.com`] = [['Prefix', '/', `w${i}`]];
      const r = create(table(hosts));
      expect(backendOf(r, 'h9999.example.com', '/p3/x')).toBe('c9999'); // 9999 % 7 = 3
      expect(backendOf(r, 'h9999.example.com', '/p6')).toBeNull();
      expect(backendOf(r, 'x.w42.example.com', '/')).toBe('w42');
      expect(backendOf(r, 'h10000.example.com', '/p0')).toBeNull();
    });

    it('handles a host with many routes', () => {
      const rules: Rule[] = [];
      for (let i = 0; i < 500; i++) rules.push(['Prefix', `/svc${i}`, `p${i}`], ['Exact', `/svc${i}/health`, `e${i}`]);
      rules.push(['Prefix', '/svc1/deep/er', 'deep']);
      const r = create(table({ h: rules }));
      expect(backendOf(r, 'h', '/svc499/x')).toBe('p499');
      expect(backendOf(r, 'h', '/svc499/health')).toBe('e499');
      expect(backendOf(r, 'h', '/svc499/health/')).toBe('p499');
      expect(backendOf(r, 'h', '/svc1/deep/er/x')).toBe('deep');
      expect(backendOf(r, 'h', '/svc1/deep/e')).toBe('p1');
      expect(backendOf(r, 'h', '/svc5000')).toBeNull();
    });

    describe('ingress-controller-conformance path_rules (SCENARIOS.md §2.5)', () => {
      const r = create(
        table({
          'exact-path-rules': [['Exact', '/foo', 'foo-exact']],
          'prefix-path-rules': [
            ['Prefix', '/foo', 'foo-prefix'],
            ['Prefix', '/aaa/bbb', 'aaa-slash-bbb-prefix'],
            ['Prefix', '/aaa', 'aaa-prefix'],
          ],
          'mixed-path-rules': [
            ['Prefix', '/foo', 'foo-prefix'],
            ['Exact', '/foo', 'foo-exact'],
          ],
          'trailing-slash-path-rules': [
            ['Prefix', '/aaa/bbb/', 'aaa-slash-bbb-slash-prefix'],
            ['Exact', '/foo/', 'foo-slash-exact'],
          ],
        }),
      );
      it.each([
        [1, 'exact-path-rules', '/foo', 'foo-exact'],
        [2, 'exact-path-rules', '/foo/', null],
        [3, 'exact-path-rules', '/FOO', null],
        [4, 'exact-path-rules', '/bar', null],
        [5, 'prefix-path-rules', '/foo', 'foo-prefix'],
        [6, 'prefix-path-rules', '/foo/', 'foo-prefix'],
        [7, 'prefix-path-rules', '/FOO', null],
        [8, 'prefix-path-rules', '/aaa/bbb', 'aaa-slash-bbb-prefix'],
        [9, 'prefix-path-rules', '/aaa/bbb/ccc', 'aaa-slash-bbb-prefix'],
        [10, 'prefix-path-rules', '/aaa/ccc', 'aaa-prefix'],
        [11, 'prefix-path-rules', '/aaaccc', null],
        [12, 'mixed-path-rules', '/foo', 'foo-exact'],
        [13, 'trailing-slash-path-rules', '/aaa/bbb', 'aaa-slash-bbb-slash-prefix'],
        [14, 'trailing-slash-path-rules', '/aaa/bbb/', 'aaa-slash-bbb-slash-prefix'],
        [15, 'trailing-slash-path-rules', '/foo', null],
      ] as const)('row %i: %s %s → %s', (_row, host, path, want) => expect(backendOf(r, host, path)).toBe(want));
    });
  });
}
