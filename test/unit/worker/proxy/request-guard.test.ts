import { describe, expect, it } from 'vitest';
import { definesBody, endsWithHttpVersion, exceedsBytes, guardRequest, type HeadView, type RequestLimits } from '../../../../src/worker/proxy/request-guard.js';

const LIMITS: RequestLimits = { targetBytes: 8192, fieldBytes: 8192, fields: 98 };

function head(fields: [string, string][], framing: { cl?: number; te?: number } = {}): HeadView {
  return { names: fields.map(([k]) => k), values: fields.map(([, v]) => v), contentLengthCount: framing.cl ?? 0, transferEncodingCount: framing.te ?? 0 };
}

const HOST: [string, string] = ['host', 'a.test'];

describe('guardRequest: sizes', () => {
  it('lets a target of exactly the limit through and answers 414 one byte over', () => {
    expect(guardRequest('GET', `/${'a'.repeat(8191)}`, head([HOST]), LIMITS)).toBeNull();
    expect(guardRequest('GET', `/${'a'.repeat(8192)}`, head([HOST]), LIMITS)).toBe('uri-too-long');
  });

  it('counts the query in the target', () => {
    expect(guardRequest('GET', `/a?${'q'.repeat(8189)}`, head([HOST]), LIMITS)).toBeNull();
    expect(guardRequest('GET', `/a?${'q'.repeat(8190)}`, head([HOST]), LIMITS)).toBe('uri-too-long');
  });

  it('counts a field line as name, colon, space and value: 431 one byte over', () => {
    const name = 'x-big';
    const fits = 'v'.repeat(8192 - name.length - 2);
    expect(guardRequest('GET', '/', head([HOST, [name, fits]]), LIMITS)).toBeNull();
    expect(guardRequest('GET', '/', head([HOST, [name, `${fits}v`]]), LIMITS)).toBe('head-too-large');
  });

  it('counts non-ASCII values in UTF-8 bytes', () => {
    const limits = { ...LIMITS, fieldBytes: 100 };
    // 'é' is 2 bytes: 47 of them plus `x: ` is 97 bytes; 49 is 101.
    expect(guardRequest('GET', '/', head([HOST, ['x', 'é'.repeat(47)]]), limits)).toBeNull();
    expect(guardRequest('GET', '/', head([HOST, ['x', 'é'.repeat(49)]]), limits)).toBe('head-too-large');
  });

  it('a name longer than the field limit is too large whatever its value', () => {
    expect(guardRequest('GET', '/', head([HOST, ['n'.repeat(300), '']]), { ...LIMITS, fieldBytes: 256 })).toBe('head-too-large');
  });

  it('bounds the number of fields (Host included)', () => {
    const fields = (n: number): [string, string][] => [HOST, ...Array.from({ length: n - 1 }, (_, i): [string, string] => [`x-f${i}`, 'v'])];
    expect(guardRequest('GET', '/', head(fields(20)), { ...LIMITS, fields: 20 })).toBeNull();
    expect(guardRequest('GET', '/', head(fields(21)), { ...LIMITS, fields: 20 })).toBe('head-too-large');
  });

  it('checks sizes before framing, as nginx does while it reads', () => {
    expect(guardRequest('POST', `/${'a'.repeat(9000)}`, head([HOST]), LIMITS)).toBe('uri-too-long');
  });
});

describe('guardRequest: framing an empty-named field can hide', () => {
  it('answers 411 to POST, PUT and PATCH (any case) with neither Content-Length nor Transfer-Encoding', () => {
    for (const m of ['POST', 'PUT', 'PATCH', 'post', 'Patch']) expect(guardRequest(m, '/', head([HOST]), LIMITS), m).toBe('length-required');
  });

  it('lets them through with Content-Length (0 included) or Transfer-Encoding', () => {
    expect(guardRequest('POST', '/', head([HOST, ['content-length', '0']], { cl: 1 }), LIMITS)).toBeNull();
    expect(guardRequest('PUT', '/', head([HOST, ['transfer-encoding', 'chunked']], { te: 1 }), LIMITS)).toBeNull();
  });

  it('lets methods that define no body through without framing', () => {
    for (const m of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'PROPFIND', 'MKCOL', 'POSTX', 'PUTS']) expect(guardRequest(m, '/', head([HOST]), LIMITS), m).toBeNull();
  });

  it('answers 400 to a field value ending in a request line version (a captured request line)', () => {
    expect(guardRequest('GET', '/admin', head([['x-ignore', 'GET /home HTTP/1.1'], HOST]), LIMITS)).toBe('bad-request');
    expect(guardRequest('GET', '/admin', head([HOST, ['x', 'aPOST / http/1.0']]), LIMITS)).toBe('bad-request');
  });
});

describe('definesBody', () => {
  it('is POST, PUT and PATCH in any case, nothing else', () => {
    expect(['POST', 'put', 'PaTcH'].map(definesBody)).toEqual([true, true, true]);
    expect(['GET', 'PUTS', 'POSTS', 'PATCHY', 'P', ''].map(definesBody)).toEqual([false, false, false, false, false, false]);
  });
});

describe('endsWithHttpVersion', () => {
  it('matches a space, HTTP/1.1 or HTTP/1.0 at the very end', () => {
    expect(['GET / HTTP/1.1', ' HTTP/1.0', 'x Http/1.1'].map(endsWithHttpVersion)).toEqual([true, true, true]);
  });

  it('does not match anything else', () => {
    expect(['HTTP/1.1', 'xHTTP/1.1', 'GET / HTTP/1.1 ', 'GET / HTTP/2.0', 'GET / HTTP/1.2', 'HTTP/1.1 proxy', 'a HTTPS/1.1', ''].map(endsWithHttpVersion)).toEqual([
      false, false, false, false, false, false, false, false,
    ]);
  });
});

describe('exceedsBytes', () => {
  it('compares UTF-8 bytes with the limit', () => {
    expect([exceedsBytes('abc', 3), exceedsBytes('abcd', 3), exceedsBytes('€', 3), exceedsBytes('€a', 3), exceedsBytes('', -1)]).toEqual([false, true, false, true, true]);
  });
});
