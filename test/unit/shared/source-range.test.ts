/**
 * Client address lists (issue 15 item 6, docs/annotations.md): allowlist-source-range and
 * denylist-source-range matched against the raw peer address uWS gives (4 or 16 bytes), IPv4,
 * IPv6 and IPv4-mapped IPv6 (what a dual-stack listener reports for an IPv4 client); the deny
 * list wins over the allow list, as ingress-nginx's `deny` lines come before its `allow` lines.
 */
import { describe, expect, it } from 'vitest';
import { sourceAllowed, sourceVerdict, type RouteSourceRange } from '../../../src/shared/source-range.js';

const v4 = (...b: number[]): Uint8Array => new Uint8Array(b);
const v6 = (groups: number[]): Uint8Array => new Uint8Array(groups.flatMap((g) => [g >> 8, g & 0xff]));
const mapped = (a: number, b: number, c: number, d: number): Uint8Array => v6([0, 0, 0, 0, 0, 0xffff, (a << 8) | b, (c << 8) | d]);

describe('source ranges', () => {
  const office: RouteSourceRange = { allow: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32'], deny: ['10.9.0.0/16', '2001:db8:bad::/48'] };

  it.each<[string, Uint8Array, boolean, string | null]>([
    ['IPv4 inside an allowed block', v4(10, 1, 2, 3), true, '10.0.0.0/8'],
    ['IPv4 equal to a bare allowed address', v4(192, 168, 1, 7), true, '192.168.1.7'],
    ['IPv4 next to a bare allowed address', v4(192, 168, 1, 8), false, null],
    ['IPv4 outside every block', v4(127, 0, 0, 1), false, null],
    ['IPv4 in a denied block inside an allowed one: deny wins', v4(10, 9, 0, 1), false, '10.9.0.0/16'],
    ['IPv4-mapped IPv6 inside an allowed IPv4 block', mapped(10, 1, 2, 3), true, '10.0.0.0/8'],
    ['IPv4-mapped IPv6 in a denied IPv4 block', mapped(10, 9, 200, 1), false, '10.9.0.0/16'],
    ['IPv4-mapped IPv6 outside', mapped(127, 0, 0, 1), false, null],
    ['IPv6 inside an allowed block', v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 1]), true, '2001:db8::/32'],
    ['IPv6 in a denied block inside an allowed one', v6([0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 1]), false, '2001:db8:bad::/48'],
    ['IPv6 loopback', v6([0, 0, 0, 0, 0, 0, 0, 1]), false, null],
  ])('%s', (_name, address, allowed, entry) => {
    expect(sourceVerdict(office, address)).toEqual({ allowed, entry });
    expect(sourceAllowed(office, address)).toBe(allowed);
  });

  it('a deny list alone refuses only its entries', () => {
    const range: RouteSourceRange = { deny: ['127.0.0.1', '::1'] };
    expect(sourceAllowed(range, v4(127, 0, 0, 1))).toBe(false);
    expect(sourceAllowed(range, mapped(127, 0, 0, 1))).toBe(false);
    expect(sourceAllowed(range, v6([0, 0, 0, 0, 0, 0, 0, 1]))).toBe(false);
    expect(sourceVerdict(range, v4(127, 0, 0, 2))).toEqual({ allowed: true, entry: null });
    expect(sourceAllowed(range, v6([0xfe80, 0, 0, 0, 0, 0, 0, 1]))).toBe(true);
  });

  it('an allow list with no valid entry lets nobody through', () => {
    const range: RouteSourceRange = { allow: [], deny: [] };
    expect(sourceAllowed(range, v4(127, 0, 0, 1))).toBe(false);
    expect(sourceAllowed(range, v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]))).toBe(false);
  });

  it('an IPv6 block never matches an IPv4 client, nor the reverse (but ::ffff:0:0/96 is written as IPv6)', () => {
    expect(sourceAllowed({ allow: ['::/0'], deny: [] }, v4(10, 0, 0, 1))).toBe(false);
    expect(sourceAllowed({ allow: ['0.0.0.0/0'], deny: [] }, v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]))).toBe(false);
    expect(sourceAllowed({ allow: ['0.0.0.0/0'], deny: [] }, mapped(8, 8, 8, 8))).toBe(true);
  });
});
