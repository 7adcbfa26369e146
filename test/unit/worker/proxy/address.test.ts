import { describe, expect, it } from 'vitest';
import { formatAddress } from '../../../../src/worker/proxy/address.js';

const ab = (bytes: number[]): ArrayBuffer => new Uint8Array(bytes).buffer;
const v6 = (groups: number[]): ArrayBuffer => ab(groups.flatMap((g) => [g >> 8, g & 0xff]));

describe('formatAddress', () => {
  it.each([
    ['IPv4', ab([127, 0, 0, 1]), '127.0.0.1'],
    ['IPv4 again (memoised path)', ab([127, 0, 0, 1]), '127.0.0.1'],
    ['v4-mapped IPv6 is unwrapped', ab([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 20]), '192.168.1.20'],
    ['loopback', v6([0, 0, 0, 0, 0, 0, 0, 1]), '::1'],
    ['unspecified', v6([0, 0, 0, 0, 0, 0, 0, 0]), '::'],
    ['RFC 5952 4.2.1 longest run', v6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]), '2001:db8::1:0:0:1'],
    ['RFC 5952 4.2.2 one zero group is not compressed', v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), '2001:db8:0:1:1:1:1:1'],
    ['RFC 5952 4.2.3 first of equal runs', v6([0x2001, 0, 0, 1, 0, 0, 1, 1]), '2001::1:0:0:1:1'],
    ['lower-case, no leading zeros', v6([0x2001, 0x0db8, 0xabcd, 0x0012, 0, 0, 0, 0x00ff]), '2001:db8:abcd:12::ff'],
    ['trailing run', v6([0xfe80, 1, 0, 0, 0, 0, 0, 0]), 'fe80:1::'],
  ])('%s', (_name, input, want) => expect(formatAddress(input)).toBe(want));
});
