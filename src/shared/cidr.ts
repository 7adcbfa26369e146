/**
 * CIDR blocks (IPv4 and IPv6) for address lists such as ingress-nginx's `limit-whitelist`
 * (docs/rate-limits.md). Pure: parses text, matches the raw address bytes uWS gives.
 */

/** Cidr is a parsed block: the network's bytes (4 or 16) and its prefix length. */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly bits: number;
}

/**
 * parseCidr reads `a.b.c.d/n`, `v6::/n`, or a bare address (a /32 or /128, as ingress-nginx
 * accepts); undefined when it is none of these. Host bits are cleared.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = addr.includes(':') ? parseV6(addr) : parseV4(addr);
  if (bytes === undefined) return undefined;
  const max = bytes.length * 8;
  let bits = max;
  if (slash >= 0) {
    const n = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(n) || Number(n) > max) return undefined;
    bits = Number(n);
  }
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = (bytes[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  return { bytes, bits };
}

const parsedLists = new WeakMap<readonly string[], readonly (readonly [string, Cidr])[]>();

/**
 * firstListed returns the first entry of `list` (CIDRs or addresses as written; one that does not
 * parse never matches) that holds `address` (4 or 16 bytes), or null. Each list is parsed once,
 * on first use: the lists of a snapshot stay the same arrays for as long as it serves. The address
 * lists, limit-whitelist and the explainer all match through it.
 */
export function firstListed(list: readonly string[], address: Uint8Array): string | null {
  let blocks = parsedLists.get(list);
  if (blocks === undefined) {
    blocks = list.flatMap((text) => {
      const c = parseCidr(text);
      return c === undefined ? [] : [[text, c] as const];
    });
    parsedLists.set(list, blocks);
  }
  for (const [text, block] of blocks) if (cidrContains(block, address)) return text;
  return null;
}

/** cidrContains says whether `address` (4 or 16 bytes; an IPv4-mapped IPv6 address counts as IPv4) is in `block`. */
export function cidrContains(block: Cidr, address: Uint8Array): boolean {
  let a = address;
  if (a.length === 16 && block.bytes.length === 4 && isV4Mapped(a)) a = a.subarray(12);
  if (a.length !== block.bytes.length) return false;
  let bits = block.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((a[i] as number) & mask) !== block.bytes[i]) return false;
  }
  return true;
}

function isV4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseV6(text: string): Uint8Array | undefined {
  let groups: string[];
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  // A trailing dotted IPv4 part stands for two groups.
  const expand = (part: string): string[] | undefined => {
    if (part === '') return [];
    const gs = part.split(':');
    const last = gs[gs.length - 1] as string;
    if (last.includes('.')) {
      const v4 = parseV4(last);
      if (v4 === undefined) return undefined;
      gs.splice(gs.length - 1, 1, ((v4[0] as number) * 256 + (v4[1] as number)).toString(16), ((v4[2] as number) * 256 + (v4[3] as number)).toString(16));
    }
    return gs;
  };
  const head = expand(halves[0] as string);
  const tail = halves.length === 2 ? expand(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<string>(missing).fill('0'), ...tail];
  } else groups = head;
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] as string;
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  return out;
}
