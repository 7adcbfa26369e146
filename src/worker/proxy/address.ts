/**
 * Client address formatting for X-Forwarded-For and X-Real-IP. uWS hands out the peer address
 * as 4 or 16 bytes; a dual-stack listener reports IPv4 clients as v4-mapped IPv6.
 */

const lastBytes = new Uint8Array(16);
let lastLength = 0;
let lastText = '';

/**
 * formatAddress turns uWS's binary peer address (4 or 16 bytes) into text: dotted IPv4, a
 * v4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack listener reports) unwrapped to
 * IPv4, and any other IPv6 address compressed per RFC 5952. The last result is memoised:
 * keep-alive clients and a load balancer in front repeat the same peer.
 */
export function formatAddress(address: ArrayBuffer): string {
  const b = new Uint8Array(address);
  const n = b.length;
  if (n === lastLength && n > 0) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (b[i] !== lastBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastText;
  }
  const text = n === 4 ? ipv4(b, 0) : n === 16 ? ipv6(b) : '';
  if (n <= 16) {
    lastBytes.set(b);
    lastLength = n;
    lastText = text;
  }
  return text;
}

function ipv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function ipv6(b: Uint8Array): string {
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return ipv4(b, 12);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
