import { describe, expect, it } from 'vitest';
import { RequestHead, buildUpstreamHeaders, newRequestId, writeResponseFields } from '../../../../src/worker/proxy/headers.js';
import { ResponseParser, type ResponseHead } from '../../../../src/worker/upstream/parser.js';

function head(fields: [string, string][]): RequestHead {
  const h = new RequestHead();
  h.reset();
  for (const [k, v] of fields) h.visit(k, v);
  return h;
}

const info = { clientAddress: '10.1.2.3', port: '8080', proto: 'http' as const, contentLength: null };

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

describe('buildUpstreamHeaders', () => {
  it('keeps client fields in order, drops hop-by-hop and listed ones, then adds forwarding fields', () => {
    const h = head([
      ['host', 'a.test:8080'],
      ['connection', 'keep-alive, X-Hop'],
      ['x-hop', '1'],
      ['user-agent', 'ua'],
      ['te', 'trailers'],
      ['expect', '100-continue'],
      ['content-length', '5'],
      ['x-forwarded-for', '6.6.6.6'],
      ['x-forwarded-for', '7.7.7.7'],
      ['x-forwarded-proto', 'https'],
      ['x-real-ip', '6.6.6.6'],
      ['forwarded', 'for=x'],
      ['proxy', 'http://evil'],
      ['cookie', 'a=1'],
      ['x-request-id', 'req-1'],
    ]);
    const out = buildUpstreamHeaders(h, { ...info, contentLength: '5' });
    expect(pairs(out as string[])).toEqual([
      ['host', 'a.test:8080'],
      ['user-agent', 'ua'],
      ['cookie', 'a=1'],
      ['content-length', '5'],
      ['x-forwarded-for', '10.1.2.3'],
      ['x-forwarded-host', 'a.test:8080'],
      ['x-forwarded-port', '8080'],
      ['x-forwarded-proto', 'http'],
      ['x-real-ip', '10.1.2.3'],
      ['x-request-id', 'req-1'],
      ['x-original-forwarded-for', '6.6.6.6, 7.7.7.7'],
    ]);
  });

  it('a Connection list cannot remove Host or the fields the proxy adds', () => {
    const h = head([
      ['host', 'a'],
      ['connection', 'host, x-forwarded-for, x-real-ip'],
    ]);
    const names = pairs(buildUpstreamHeaders(h, info) as string[]).map(([k]) => k);
    expect(names).toContain('host');
    expect(names).toContain('x-forwarded-for');
    expect(names).toContain('x-real-ip');
  });

  it('generates a request id unless the client sent a sane one', () => {
    const id = (v: string): string | undefined =>
      pairs(buildUpstreamHeaders(head([['host', 'a'], ['x-request-id', v]]), info) as string[]).find(([k]) => k === 'x-request-id')?.[1];
    expect(id('abc.DEF_1-2')).toBe('abc.DEF_1-2');
    expect(id('x'.repeat(200))).toBe('x'.repeat(200));
    expect(id('x'.repeat(201))).toMatch(/^[0-9a-f]{32}$/);
    expect(id('a b')).toMatch(/^[0-9a-f]{32}$/);
    expect(id('')).toMatch(/^[0-9a-f]{32}$/);
    const ids = new Set(Array.from({ length: 1000 }, () => newRequestId()));
    expect(ids.size).toBe(1000);
  });

  it('re-encodes UTF-8 values to their bytes and refuses values uWS could not decode', () => {
    const out = buildUpstreamHeaders(head([['host', 'a'], ['x-name', 'café']]), info) as string[];
    expect(Buffer.from(out[3] as string, 'latin1').toString('utf8')).toBe('café');
    expect(buildUpstreamHeaders(head([['host', 'a'], ['x-bad', 'a\ufffdb']]), info)).toBeNull();
  });
});

/** parsed reads a response head with the upstream parser and hands it to `fn` while it is valid. */
function withHead<T>(text: string, fn: (h: ResponseHead) => T): T {
  let out: T | undefined;
  const p = new ResponseParser({ onHead: (h) => (out = fn(h)), onBody: () => undefined });
  p.reset(false);
  expect(p.execute(Buffer.from(text, 'latin1'), 0, text.length)).toBe(0);
  return out as T;
}

/** written collects writeHeader calls and renders them as uWS does (`name: value\r\n`). */
function written(text: string, dropCacheStatus = false, dropSts = false): { calls: number; wire: string } {
  return withHead(text, (h) => {
    let wire = '';
    let calls = 0;
    const sink = {
      writeHeader(n: string | Uint8Array, v: string | Uint8Array) {
        calls++;
        const s = (x: string | Uint8Array): string => (typeof x === 'string' ? x : Buffer.from(x).toString('latin1'));
        wire += `${s(n)}: ${s(v)}\r\n`;
      },
    };
    writeResponseFields(sink, h, dropCacheStatus, dropSts);
    return { calls, wire };
  });
}

describe('writeResponseFields', () => {
  it('drops hop-by-hop, listed, Date, Server and framing fields, keeps the rest byte-exact with duplicates', () => {
    const { wire, calls } = written(
      'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: keep-alive, X-Listed\r\nX-Listed: 1\r\nKeep-Alive: timeout=5\r\n' +
        'Date: yesterday\r\nServer: upstream\r\nSet-Cookie: a=1\r\nSet-Cookie:b=2\r\nContent-Length: 42\r\nTrailer: X-T\r\nUpgrade: h2c\r\n' +
        'Proxy-Authenticate: Basic\r\nETag: "x"\r\nX-Cache-Status: HIT\r\nStrict-Transport-Security: max-age=1\r\n\r\n',
    );
    expect(wire).toBe('Content-Type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie:b=2\r\nETag: "x"\r\nX-Cache-Status: HIT\r\nStrict-Transport-Security: max-age=1\r\n');
    // Runs of kept fields go out in one call each.
    expect(calls).toBe(3);
  });

  it('drops X-Cache-Status and Strict-Transport-Security when the proxy sets its own', () => {
    const { wire } = written('HTTP/1.1 200 OK\r\nX-Cache-Status: HIT\r\nStrict-Transport-Security: max-age=1\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n', true, true);
    expect(wire).toBe('X-A: 1\r\n');
  });

  it('writes values with bytes of 0x80 and above as bytes', () => {
    const { wire } = written('HTTP/1.1 200 OK\r\nX-V: caf\xe9\r\nContent-Length: 0\r\n\r\n');
    expect(Buffer.from(wire, 'latin1')).toEqual(Buffer.from('X-V: caf\xe9\r\n', 'latin1'));
  });

  it('writes nothing for a head with only dropped fields', () => {
    expect(written('HTTP/1.1 204 No Content\r\nDate: x\r\nServer: y\r\n\r\n')).toEqual({ calls: 0, wire: '' });
  });
});
