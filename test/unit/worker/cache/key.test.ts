import { describe, expect, it } from 'vitest';
import { normalizeHost, primaryKey, varyKey, type KeyParts } from '../../../../src/worker/cache/key.js';

const base: KeyParts = { scheme: 'http', host: 'a.com', path: '/x', query: '' };

describe('primaryKey', () => {
  it.each([
    { name: 'host case and default port (row 152)', a: { host: 'A.com:80' }, b: { host: 'a.com' }, same: true },
    { name: 'https default port', a: { scheme: 'https', host: 'a.com:443' }, b: { scheme: 'https', host: 'A.COM' }, same: true },
    { name: 'http :443 is not default', a: { host: 'a.com:443' }, b: { host: 'a.com' }, same: false },
    { name: 'non-default port kept', a: { host: 'a.com:8080' }, b: { host: 'a.com' }, same: false },
    { name: 'different vhosts never collide', a: { host: 'a.com' }, b: { host: 'b.com' }, same: false },
    { name: 'scheme distinct (row 153)', a: { scheme: 'https' }, b: { scheme: 'http' }, same: false },
    { name: 'scheme case', a: { scheme: 'HTTP' }, b: { scheme: 'http' }, same: true },
    { name: 'query order distinct (row 153)', a: { query: 'a=1&b=2' }, b: { query: 'b=2&a=1' }, same: false },
    { name: 'leading ? tolerated', a: { query: '?a=1' }, b: { query: 'a=1' }, same: true },
    { name: 'empty query = no query', a: { query: '?' }, b: { query: '' }, same: true },
    { name: 'path case kept', a: { path: '/X' }, b: { path: '/x' }, same: false },
  ])('$name', ({ a, b, same }) => {
    expect(primaryKey({ ...base, ...a }) === primaryKey({ ...base, ...b })).toBe(same);
  });

  it('renders scheme://host/path?query', () => {
    expect(primaryKey({ scheme: 'https', host: 'Shop.Example:443', path: '/p/q', query: 'z=1&a=2' })).toBe('https://shop.example/p/q?z=1&a=2');
  });

  it('ignores unkeyed headers by construction (row 151): the key takes no headers', () => {
    expect(primaryKey.length).toBe(1);
  });

  it.each([
    { scheme: 'http', host: '[::1]:80', want: '[::1]' },
    { scheme: 'http', host: '[::1]', want: '[::1]' },
    { scheme: 'https', host: '[::1]:8443', want: '[::1]:8443' },
  ])('normalizeHost($scheme, $host) = $want', ({ scheme, host, want }) => {
    expect(normalizeHost(scheme, host)).toBe(want);
  });
});

describe('varyKey', () => {
  it.each([
    { name: 'no Vary', vary: undefined, a: [['accept-encoding', 'gzip']], b: [], same: true },
    { name: 'Accept-Encoding differs (row 150)', vary: 'Accept-Encoding', a: [['accept-encoding', 'gzip']], b: [['accept-encoding', 'br']], same: false },
    { name: 'whitespace normalised', vary: 'accept-encoding', a: [['Accept-Encoding', ' gzip ,  br ']], b: [['accept-encoding', 'gzip,br']], same: true },
    { name: 'inner runs collapsed', vary: 'accept-language', a: [['accept-language', 'en  US']], b: [['accept-language', 'en US']], same: true },
    { name: 'name order and case irrelevant', vary: 'B, a', a: [['a', '1'], ['b', '2']], b: [['b', '2'], ['a', '1']], same: true },
    { name: 'Vary names listed twice', vary: 'a, A', a: [['a', '1']], b: [['a', '1']], same: true },
    { name: 'absent ≠ empty', vary: 'a', a: [], b: [['a', '']], same: false },
    { name: 'duplicate request fields combined', vary: 'a', a: [['a', '1'], ['a', '2']], b: [['a', '1, 2']], same: true },
    { name: 'unlisted headers ignored (X-Forwarded-Host, row 151)', vary: 'accept', a: [['accept', '*/*'], ['x-forwarded-host', 'evil']], b: [['accept', '*/*']], same: true },
  ] as { name: string; vary: string | undefined; a: [string, string][]; b: [string, string][]; same: boolean }[])('$name', ({ vary, a, b, same }) => {
    const ka = varyKey(vary, a);
    const kb = varyKey(vary, b);
    expect(ka).not.toBeNull();
    expect(ka === kb).toBe(same);
  });

  it.each(['*', 'accept, *'])('Vary: %s never matches', (vary) => {
    expect(varyKey(vary, [])).toBeNull();
  });

  it('is sorted and lower-cased', () => {
    expect(varyKey('Zeta, Accept-Encoding', { zeta: 'z', 'accept-encoding': 'gzip' })).toBe('accept-encoding:gzip\nzeta:z\n');
  });
});
