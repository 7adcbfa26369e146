import { describe, expect, it } from 'vitest';
import { RequestHead, buildUpstreamHeaders, filterResponseHead, newRequestId } from '../../../../src/worker/proxy/headers.js';

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

describe('filterResponseHead', () => {
  const raw = (fields: [string, string][]): Buffer[] => fields.flatMap(([k, v]) => [Buffer.from(k, 'latin1'), Buffer.from(v, 'latin1')]);
  const text = (b: Buffer[]): [string, string][] => pairs(b.map((x) => x.toString('latin1')));

  it('drops hop-by-hop, Date, Server and framing, keeps the rest byte-exact with duplicates', () => {
    const h = filterResponseHead(
      raw([
        ['Content-Type', 'text/html'],
        ['Connection', 'keep-alive, X-Listed'],
        ['X-Listed', '1'],
        ['Keep-Alive', 'timeout=5'],
        ['Transfer-Encoding', 'chunked'],
        ['Date', 'yesterday'],
        ['Server', 'upstream'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
        ['Content-Length', '42'],
        ['Trailer', 'X-T'],
        ['Upgrade', 'h2c'],
        ['Proxy-Authenticate', 'Basic'],
        ['ETag', '"x"'],
      ]),
    );
    expect(h?.contentLength).toBe(42);
    expect(text(h?.fields ?? [])).toEqual([
      ['Content-Type', 'text/html'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['ETag', '"x"'],
    ]);
  });

  it('reports an unknown length as -1 and refuses non-Buffer heads', () => {
    expect(filterResponseHead(raw([['X', 'y']]))?.contentLength).toBe(-1);
    expect(filterResponseHead(null)).toBeNull();
    expect(filterResponseHead(['a', 'b'])).toBeNull();
    expect(filterResponseHead([Buffer.from('a')])).toBeNull();
  });
});
