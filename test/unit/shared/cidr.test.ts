/** CIDR parsing and matching for limit-whitelist (docs/rate-limits.md). */
import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr } from '../../../src/shared/cidr.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const v6 = (groups: number[]): Uint8Array => new Uint8Array(groups.flatMap((g) => [g >> 8, g & 0xff]));

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', bytes(10, 0, 0, 0), 8],
    ['10.1.2.3/8', bytes(10, 0, 0, 0), 8],
    ['192.168.1.1', bytes(192, 168, 1, 1), 32],
    ['0.0.0.0/0', bytes(0, 0, 0, 0), 0],
    ['2001:db8::/32', v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32],
    ['::1', v6([0, 0, 0, 0, 0, 0, 0, 1]), 128],
    ['::ffff:10.0.0.1/128', v6([0, 0, 0, 0, 0, 0xffff, 0x0a00, 1]), 128],
  ])('%s', (text, want, bits) => {
    expect(parseCidr(text)).toEqual({ bytes: want, bits });
  });

  it.each(['', '10.0.0.0/33', '10.0.0/8', '256.0.0.0', '10.0.0.01', '2001:db8::/129', '1::2::3', 'fe80::1%eth0', 'example.com', '10.0.0.0/-1', '10.0.0.0/'])('refuses %j', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });
});

describe('cidrContains', () => {
  const net = parseCidr('10.0.0.0/8')!;
  it('matches IPv4 and v4-mapped IPv6 inside the block, not outside', () => {
    expect(cidrContains(net, bytes(10, 255, 0, 1))).toBe(true);
    expect(cidrContains(net, v6([0, 0, 0, 0, 0, 0xffff, 0x0aff, 1]))).toBe(true);
    expect(cidrContains(net, bytes(11, 0, 0, 1))).toBe(false);
    expect(cidrContains(net, v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]))).toBe(false);
  });
  it('matches IPv6 prefixes that end inside a byte', () => {
    const b = parseCidr('2001:db8:8000::/33')!;
    expect(cidrContains(b, v6([0x2001, 0xdb8, 0x8001, 0, 0, 0, 0, 1]))).toBe(true);
    expect(cidrContains(b, v6([0x2001, 0xdb8, 0x7fff, 0, 0, 0, 0, 1]))).toBe(false);
  });
});
