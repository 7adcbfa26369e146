/**
 * PROXY protocol in front of TLS, for the HTTPS port's node:http2 front (docs/client-address.md):
 * with --use-proxy-protocol every connection starts with the load balancer's header, the binary
 * v2 or the text v1 line (an AWS Classic Load Balancer's), read here before the TLS handshake;
 * the HTTP port's header is read by uWebSockets.js itself, which reads v2 only.
 */
import type { Socket } from 'node:net';
import { parseAddress } from '../../shared/client-address.js';

/** The 12 bytes every v2 header starts with. */
const SIGNATURE = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const FIXED_BYTES = 16;
/** The largest header accepted: addresses plus TLVs (a load balancer's are well under this). */
export const MAX_PROXY_HEADER_BYTES = 4096;

const NO_ADDRESS = new ArrayBuffer(0);

/** ProxyParse is the state of a header read so far. */
export type ProxyParse =
  | { readonly kind: 'more' }
  /** `source`: the client's address (4 or 16 bytes), empty for LOCAL (the balancer's own health check) or a family without one. */
  | { readonly kind: 'done'; readonly consumed: number; readonly source: ArrayBuffer }
  | { readonly kind: 'invalid'; readonly reason: string };

/** The v1 line's start, and its longest form (`PROXY TCP6 <39> <39> 65535 65535\r\n`, the specification's bound). */
const V1_PREFIX = Buffer.from('PROXY ');
const MAX_V1_BYTES = 107;

/** parseProxyHeader reads a v2 header or a v1 line at the start of `b`, whichever it starts with. */
export function parseProxyHeader(b: Uint8Array): ProxyParse {
  if (b.length === 0) return { kind: 'more' };
  if (b[0] === V1_PREFIX[0]) return parseProxyV1(b);
  if (b[0] === SIGNATURE[0]) return parseProxyV2(b);
  return { kind: 'invalid', reason: 'no PROXY protocol header' };
}

/**
 * parseProxyV1 reads a v1 line at the start of `b`: `PROXY TCP4|TCP6 source destination
 * sport dport\r\n`, or `PROXY UNKNOWN …\r\n` (no address, as v2's LOCAL).
 */
export function parseProxyV1(b: Uint8Array): ProxyParse {
  const n = Math.min(b.length, V1_PREFIX.length);
  for (let i = 0; i < n; i++) if (b[i] !== V1_PREFIX[i]) return { kind: 'invalid', reason: 'no PROXY protocol v1 line' };
  let end = -1;
  for (let i = V1_PREFIX.length; i < Math.min(b.length, MAX_V1_BYTES); i++) {
    if (b[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) return b.length >= MAX_V1_BYTES ? { kind: 'invalid', reason: `PROXY protocol v1 line over ${MAX_V1_BYTES} bytes` } : { kind: 'more' };
  if (b[end - 1] !== 0x0d) return { kind: 'invalid', reason: 'PROXY protocol v1 line not ended by CRLF' };
  const consumed = end + 1;
  const words = Buffer.from(b.buffer, b.byteOffset + V1_PREFIX.length, end - 1 - V1_PREFIX.length).toString('latin1').split(' ');
  const family = words[0];
  if (family === 'UNKNOWN') return { kind: 'done', consumed, source: NO_ADDRESS };
  if ((family !== 'TCP4' && family !== 'TCP6') || words.length !== 5) return { kind: 'invalid', reason: `PROXY protocol v1 line "${words.join(' ').slice(0, 60)}"` };
  const size = family === 'TCP4' ? 4 : 16;
  const source = parseAddress(words[1] as string);
  const destination = parseAddress(words[2] as string);
  if (source?.length !== size || destination?.length !== size) return { kind: 'invalid', reason: `PROXY protocol v1 addresses not ${family}` };
  for (const port of [words[3] as string, words[4] as string]) {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(port) || Number(port) > 65535) return { kind: 'invalid', reason: `PROXY protocol v1 port "${port.slice(0, 8)}"` };
  }
  return { kind: 'done', consumed, source: new Uint8Array(source).buffer };
}

/** parseProxyV2 reads a v2 header at the start of `b`. */
export function parseProxyV2(b: Uint8Array): ProxyParse {
  const n = Math.min(b.length, SIGNATURE.length);
  for (let i = 0; i < n; i++) if (b[i] !== SIGNATURE[i]) return { kind: 'invalid', reason: 'no PROXY protocol v2 signature' };
  if (b.length < FIXED_BYTES) return { kind: 'more' };
  const verCmd = b[12] as number;
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: `PROXY protocol version ${verCmd >> 4}` };
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return { kind: 'invalid', reason: `PROXY protocol command ${cmd}` };
  const len = ((b[14] as number) << 8) | (b[15] as number);
  if (FIXED_BYTES + len > MAX_PROXY_HEADER_BYTES) return { kind: 'invalid', reason: `PROXY protocol header of ${FIXED_BYTES + len} bytes` };
  if (b.length < FIXED_BYTES + len) return { kind: 'more' };
  const consumed = FIXED_BYTES + len;
  if (cmd === 0) return { kind: 'done', consumed, source: NO_ADDRESS };
  const family = (b[13] as number) >> 4;
  const size = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (size === 0) return { kind: 'done', consumed, source: NO_ADDRESS }; // UNSPEC or UNIX: no IP address
  if (len < size * 2 + 4) return { kind: 'invalid', reason: `PROXY protocol addresses in ${len} bytes` };
  // A copy of its own (a Buffer's slice is a view into a shared pool).
  return { kind: 'done', consumed, source: new Uint8Array(b.subarray(FIXED_BYTES, FIXED_BYTES + size)).buffer };
}

/**
 * readProxyHeader reads the header off a fresh connection, puts back what follows it (the TLS
 * ClientHello), and calls `ready` with the client's address; a connection whose first bytes are
 * not a whole valid header within `timeoutMs` gets `refused` with the reason, and is destroyed.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number, ready: (source: ArrayBuffer) => void, refused: (reason: string) => void): void {
  let got: Buffer = Buffer.alloc(0);
  const finish = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onEnd);
  };
  const refuse = (reason: string): void => {
    finish();
    socket.destroy();
    refused(reason);
  };
  const onData = (chunk: Buffer): void => {
    got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
    const r = parseProxyHeader(got);
    if (r.kind === 'more') return;
    if (r.kind === 'invalid') return refuse(r.reason);
    finish();
    socket.pause();
    if (got.length > r.consumed) socket.unshift(got.subarray(r.consumed));
    ready(r.source);
  };
  const onError = (err: Error): void => refuse(`connection failed before its PROXY protocol header: ${err.message}`);
  const onEnd = (): void => refuse('connection closed before its PROXY protocol header ended');
  const timer = setTimeout(() => refuse(`no whole PROXY protocol header within ${timeoutMs} ms`), timeoutMs);
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onEnd);
}
