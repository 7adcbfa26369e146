/**
 * PROXY protocol v2 in front of TLS, for the HTTPS port's node:http2 front (docs/client-address.md):
 * with --use-proxy-protocol every connection starts with the load balancer's binary header, read
 * here before the TLS handshake; the HTTP port's header is read by uWebSockets.js itself.
 */
import type { Socket } from 'node:net';

/** The 12 bytes every v2 header starts with. */
const SIGNATURE = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const FIXED_BYTES = 16;
/** The largest header accepted: addresses plus TLVs (a load balancer's are well under this). */
export const MAX_PROXY_HEADER_BYTES = 4096;

const NO_ADDRESS = new ArrayBuffer(0);

/** ProxyV2Parse is the state of a header read so far. */
export type ProxyV2Parse =
  | { readonly kind: 'more' }
  /** `source`: the client's address (4 or 16 bytes), empty for LOCAL (the balancer's own health check) or a family without one. */
  | { readonly kind: 'done'; readonly consumed: number; readonly source: ArrayBuffer }
  | { readonly kind: 'invalid'; readonly reason: string };

/** parseProxyV2 reads a v2 header at the start of `b`. */
export function parseProxyV2(b: Uint8Array): ProxyV2Parse {
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
    const r = parseProxyV2(got);
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
