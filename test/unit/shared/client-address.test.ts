import { describe, expect, it } from 'vitest';
import { forwardedAddress, invalidTrustedEntries, parseForwardedEntry, trustsEveryone } from '../../../src/shared/client-address.js';

const v4 = (text: string): number[] => text.split('.').map(Number);
const walk = (peer: string, value: string, trusted: string[]): string | null => {
  const a = forwardedAddress(new Uint8Array(v4(peer)), value, trusted);
  return a === null ? null : a.length === 4 ? [...a].join('.') : Buffer.from(a).toString('hex');
};

describe('parseForwardedEntry (nginx ngx_parse_addr_port)', () => {
  it('reads IPv4 with and without a port, IPv6 bare and bracketed with a port', () => {
    expect([...(parseForwardedEntry('203.0.113.7') ?? [])]).toEqual([203, 0, 113, 7]);
    expect([...(parseForwardedEntry('203.0.113.7:8080') ?? [])]).toEqual([203, 0, 113, 7]);
    expect(parseForwardedEntry('2001:db8::1')?.length).toBe(16);
    expect(parseForwardedEntry('[2001:db8::1]:443')?.length).toBe(16);
  });

  it('takes ports 1 to 65535 in any number of digits, and an IPv4 address in brackets, as nginx', () => {
    for (const port of ['1', '65535', '0080', '000443']) expect([...(parseForwardedEntry(`203.0.113.7:${port}`) ?? [])], port).toEqual([203, 0, 113, 7]);
    expect([...(parseForwardedEntry('[203.0.113.7]:80') ?? [])]).toEqual([203, 0, 113, 7]);
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', 'unknown', '203.0.113', '203.0.113.7:', '203.0.113.7:x', '203.0.113.7:0', '203.0.113.7:65536', '203.0.113.7:+80', '203.0.113.7:80:1', '[203.0.113.7]', '[2001:db8::1]', '[2001:db8::1]:', '[2001:db8::1]:0', '[2001:db8::1]443', '[2001:db8::1', '2001:db8::1/64', '_hidden'])
      expect(parseForwardedEntry(bad), bad).toBeUndefined();
  });
});

describe('forwardedAddress (realip with real_ip_recursive on)', () => {
  const trusted = ['10.0.0.0/8', '127.0.0.1'];

  it('an untrusted peer is the client whatever the list says', () => {
    expect(walk('198.51.100.2', '203.0.113.7', trusted)).toBeNull();
  });

  it('takes entries from the right while they are trusted, and stops at the first untrusted one', () => {
    expect(walk('127.0.0.1', '203.0.113.7', trusted)).toBe('203.0.113.7');
    expect(walk('127.0.0.1', '192.0.2.1, 203.0.113.7, 10.1.2.3', trusted)).toBe('203.0.113.7');
    expect(walk('127.0.0.1', '192.0.2.1,203.0.113.7 ,, 10.1.2.3 ', trusted)).toBe('203.0.113.7');
  });

  it('a list of trusted addresses only gives its leftmost', () => {
    expect(walk('127.0.0.1', '10.0.0.5, 10.0.0.6', trusted)).toBe('10.0.0.5');
  });

  it('an entry that is no address ends the walk on the last good address', () => {
    expect(walk('127.0.0.1', '203.0.113.7, bogus', trusted)).toBeNull();
    expect(walk('127.0.0.1', 'bogus, 10.0.0.5', trusted)).toBe('10.0.0.5');
    expect(walk('127.0.0.1', '', trusted)).toBeNull();
  });

  it('an IPv6 entry stands for the client like any other', () => {
    expect(walk('127.0.0.1', '2001:db8::7', trusted)).toBe('20010db8000000000000000000000007');
  });
});

describe('--proxy-real-ip-cidr checks', () => {
  it('names entries that are not CIDRs, and sees a /0', () => {
    expect(invalidTrustedEntries(['10.0.0.0/8', '10.0.0.0/33', 'x'])).toEqual(['10.0.0.0/33', 'x']);
    expect([trustsEveryone(['0.0.0.0/0']), trustsEveryone(['::/0']), trustsEveryone(['10.0.0.0/8'])]).toEqual([true, true, false]);
  });
});
