/**
 * The conformance echo backend keeps the upstream echo image's contract
 * (test/fixtures/conformance/ingress-v1/SCENARIOS.md §3); every other integration test relies on
 * it to tell which service and pod served a request.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalHeaderKey } from '../../src/demo/echo-server.js';
import { startEchoPods } from '../helpers/echo.js';
import { httpRequest, rawRequest } from '../helpers/http.js';

describe('echo server', () => {
  it.each([
    ['user-agent', 'User-Agent'],
    ['X-FORWARDED-FOR', 'X-Forwarded-For'],
    ['x-request-id', 'X-Request-Id'],
    ['x_under_score', 'X_under_score'],
    ['bad name', 'bad name'],
  ])('canonicalHeaderKey(%s) is %s, as Go writes it', (input, want) => {
    expect(canonicalHeaderKey(input)).toBe(want);
  });

  it('answers GET /health with OK', async () => {
    const echo = await startEchoPods('svc', ['127.0.0.1']);
    const res = await httpRequest({ port: echo.port, path: '/health' });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: 'OK' });
  });

  it('echoes the request as JSON with identity, raw target, canonical repeated headers and body digest', async () => {
    const echo = await startEchoPods('svc', ['127.0.0.2'], 0, { namespace: 'ns', ingress: 'ing', podNames: ['svc-abc'] });
    const { raw } = await rawRequest(
      echo.port,
      'POST /a/%2Fb?x=1&y HTTP/1.1\r\nHost: my-host:81\r\nx-foo: a\r\nX-FOO: b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
      { address: '127.0.0.2' },
    );
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\nContent-Type: application\/json\r\n/i);
    expect(head).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(JSON.parse(body)).toEqual({
      path: '/a/%2Fb?x=1&y',
      host: 'my-host:81',
      method: 'POST',
      proto: 'HTTP/1.1',
      headers: { 'X-Foo': ['a', 'b'], 'Content-Length': ['5'], Connection: ['close'] },
      namespace: 'ns',
      ingress: 'ing',
      service: 'svc',
      pod: 'svc-abc',
      bodyLength: 5,
      bodySha256: createHash('sha256').update('hello').digest('hex'),
    });
  });
});
