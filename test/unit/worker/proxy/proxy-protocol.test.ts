import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { formatAddress } from '../../../../src/worker/proxy/address.js';
import { MAX_PROXY_HEADER_BYTES, parseProxyHeader, parseProxyV1, parseProxyV2, readProxyHeader } from '../../../../src/worker/proxy/proxy-protocol.js';

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** header is a v2 header: version/command byte, family byte, and the address block (then `tlv` extra bytes). */
function header(verCmd: number, family: number, block: number[], tlv = 0): Buffer {
  const len = block.length + tlv;
  return Buffer.from([...SIGNATURE, verCmd, family, len >> 8, len & 0xff, ...block, ...new Array<number>(tlv).fill(0)]);
}
const v4Block = [203, 0, 113, 9, 10, 0, 0, 1, 0x9c, 0x40, 0x01, 0xbb];
const v6Block = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 7, ...new Array<number>(16).fill(0), 0x9c, 0x40, 0x01, 0xbb];

describe('parseProxyV2', () => {
  it('reads a TCP4 and a TCP6 header, TLVs included, and says how many bytes it took', () => {
    const v4 = parseProxyV2(Buffer.concat([header(0x21, 0x11, v4Block, 5), Buffer.from('tls')]));
    expect(v4.kind === 'done' && [formatAddress(v4.source), v4.consumed]).toEqual(['203.0.113.9', 16 + 12 + 5]);
    const v6 = parseProxyV2(header(0x21, 0x21, v6Block));
    expect(v6.kind === 'done' && [formatAddress(v6.source), v6.consumed]).toEqual(['2001:db8::7', 16 + 36]);
  });

  it('gives the address a buffer of its own, not a view into the bytes read', () => {
    const bytes = header(0x21, 0x11, v4Block);
    const r = parseProxyV2(bytes);
    bytes.fill(0);
    expect(r.kind === 'done' && [r.source.byteLength, formatAddress(r.source)]).toEqual([4, '203.0.113.9']);
  });

  it('names no address for LOCAL (a balancer\'s health check) and for UNSPEC or UNIX families', () => {
    for (const h of [header(0x20, 0x00, []), header(0x21, 0x00, []), header(0x21, 0x31, new Array<number>(216).fill(1))]) {
      const r = parseProxyV2(h);
      expect(r.kind === 'done' && [r.source.byteLength, r.consumed]).toEqual([0, h.length]);
    }
  });

  it('asks for more until the whole header is there, whatever the split', () => {
    const h = header(0x21, 0x11, v4Block);
    for (let n = 0; n < h.length; n++) expect(parseProxyV2(h.subarray(0, n))).toEqual({ kind: 'more' });
    expect(parseProxyV2(h).kind).toBe('done');
  });

  it.each([
    ['a v1 text line', Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.1 40000 443\r\n'), 'no PROXY protocol v2 signature'],
    ['a TLS ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), 'no PROXY protocol v2 signature'],
    ['version 1 in the binary form', header(0x11, 0x11, v4Block), 'PROXY protocol version 1'],
    ['an unknown command', header(0x22, 0x11, v4Block), 'PROXY protocol command 2'],
    ['an address block too short for its family', header(0x21, 0x11, [1, 2, 3, 4]), 'PROXY protocol addresses in 4 bytes'],
    ['a header over the bound', header(0x21, 0x11, v4Block, MAX_PROXY_HEADER_BYTES), `PROXY protocol header of ${16 + 12 + MAX_PROXY_HEADER_BYTES} bytes`],
  ])('refuses %s', (_name, bytes, reason) => {
    expect(parseProxyV2(bytes)).toEqual({ kind: 'invalid', reason });
  });
});

describe('parseProxyV1', () => {
  it('reads a TCP4 and a TCP6 line and says how many bytes it took; UNKNOWN names no address', () => {
    const v4 = parseProxyV1(Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.1 40000 443\r\n\x16\x03'));
    expect(v4.kind === 'done' && [formatAddress(v4.source), v4.consumed]).toEqual(['203.0.113.9', 43]);
    const v6 = parseProxyV1(Buffer.from('PROXY TCP6 2001:db8::7 ::1 40000 443\r\n'));
    expect(v6.kind === 'done' && formatAddress(v6.source)).toBe('2001:db8::7');
    const unknown = parseProxyV1(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'));
    expect(unknown.kind === 'done' && [unknown.source.byteLength, unknown.consumed]).toEqual([0, 35]);
  });

  it('asks for more until the line has ended, whatever the split', () => {
    const line = Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.1 40000 443\r\n');
    for (let n = 0; n < line.length; n++) expect(parseProxyV1(line.subarray(0, n))).toEqual({ kind: 'more' });
  });

  it.each([
    ['another start', 'PROXX TCP4 1.2.3.4 1.2.3.5 1 2\r\n', 'no PROXY protocol v1 line'],
    ['a bare LF', 'PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n', 'PROXY protocol v1 line not ended by CRLF'],
    ['an unknown family', 'PROXY UDP4 1.2.3.4 1.2.3.5 1 2\r\n', 'PROXY protocol v1 line "UDP4 1.2.3.4 1.2.3.5 1 2"'],
    ['a missing port', 'PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n', 'PROXY protocol v1 line "TCP4 1.2.3.4 1.2.3.5 1"'],
    ['an IPv6 address in TCP4', 'PROXY TCP4 ::1 1.2.3.5 1 2\r\n', 'PROXY protocol v1 addresses not TCP4'],
    ['a name, not an address', 'PROXY TCP4 example.com 1.2.3.5 1 2\r\n', 'PROXY protocol v1 addresses not TCP4'],
    ['a port over 65535', 'PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n', 'PROXY protocol v1 port "65536"'],
    ['a port with a sign', 'PROXY TCP4 1.2.3.4 1.2.3.5 +1 2\r\n', 'PROXY protocol v1 port "+1"'],
    ['a line past 107 bytes', `PROXY UNKNOWN ${'x'.repeat(100)}\r\n`, 'PROXY protocol v1 line over 107 bytes'],
  ])('refuses %s', (_name, text, reason) => {
    expect(parseProxyV1(Buffer.from(text))).toEqual({ kind: 'invalid', reason });
  });
});

describe('parseProxyHeader', () => {
  it('reads whichever version the bytes start with, and refuses anything else', () => {
    expect(parseProxyHeader(header(0x21, 0x11, v4Block)).kind).toBe('done');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.5 1 2\r\n')).kind).toBe('done');
    expect(parseProxyHeader(Buffer.alloc(0))).toEqual({ kind: 'more' });
    expect(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01]))).toEqual({ kind: 'invalid', reason: 'no PROXY protocol header' });
  });
});

describe('readProxyHeader', () => {
  let server: net.Server | null = null;
  afterEach(() => {
    server?.close();
    server = null;
  });

  /** serve reads each connection's header; what follows it is echoed back once the header is read. */
  async function serve(timeoutMs: number): Promise<{ port: number; outcomes: string[] }> {
    const outcomes: string[] = [];
    server = net.createServer((socket) =>
      readProxyHeader(
        socket,
        timeoutMs,
        (source) => {
          outcomes.push(`ready ${formatAddress(source)}`);
          socket.pipe(socket);
          socket.resume();
        },
        (reason) => outcomes.push(`refused: ${reason}`),
      ),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as net.AddressInfo).port, outcomes };
  }

  it('hands over the bytes after the header, even when they came in the same read, split anywhere', async () => {
    const { port, outcomes } = await serve(5000);
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const bytes = Buffer.concat([header(0x21, 0x11, v4Block), Buffer.from('hello')]);
    client.write(bytes.subarray(0, 10));
    client.write(bytes.subarray(10));
    const [echoed] = (await once(client, 'data')) as [Buffer];
    expect([outcomes, echoed.toString()]).toEqual([['ready 203.0.113.9'], 'hello']);
    client.destroy();
  });

  it('closes a connection that sends something else, or too little in time, and says why', async () => {
    const { port, outcomes } = await serve(200);
    const other = net.connect(port, '127.0.0.1');
    other.write('GET / HTTP/1.1\r\n\r\n');
    await once(other, 'close');
    const slow = net.connect(port, '127.0.0.1');
    slow.write(Buffer.from(SIGNATURE.slice(0, 6)));
    await once(slow, 'close');
    expect(outcomes).toEqual(['refused: no PROXY protocol header', 'refused: no whole PROXY protocol header within 200 ms']);
  });
});
