import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../src/primary/model.js';
import type { ErrorCode } from '../../../../src/shared/errors.js';
import { backend, codes, compileObjects, endpointSlice, ingress, ingressClass, path, rule, service, sliceEndpoint } from '../../../helpers/k8s.js';

// Issue 12 item 3: nginx.ingress.kubernetes.io/backend-protocol GRPC/GRPCS and the Service port
// appProtocol kubernetes.io/h2c compile into Backend.protocol (docs/http2.md).
const ANNOTATION = 'nginx.ingress.kubernetes.io/backend-protocol';

const slice = endpointSlice('default/grpc-a', { service: 'grpc', ports: [{ name: 'grpc', port: 50051 }], endpoints: [sliceEndpoint('10.0.0.9')] });
const svc = (appProtocol?: string): KubeObject => service('default/grpc', [{ name: 'grpc', port: 80, targetPort: 50051, ...(appProtocol === undefined ? {} : { appProtocol }) }]);
const ing = (name: string, annotations: Record<string, string> = {}, host = `${name}.example.com`): KubeObject =>
  ingress(`default/${name}`, { annotations, rules: [rule(host, path('/', backend('grpc', 80)), path('/other', backend('grpc', 80)))] });

interface Case {
  readonly name: string;
  readonly objects: readonly KubeObject[];
  /** backend id → protocol (absent: HTTP/1.1) */
  readonly want: Record<string, string | undefined>;
  readonly diagnostics?: readonly [ErrorCode, string][];
}

const cases: Case[] = [
  { name: 'no annotation, no appProtocol: HTTP/1.1', objects: [svc(), slice, ing('a')], want: { 'default/grpc:80': undefined } },
  { name: 'GRPC: h2c, a backend of its own', objects: [svc(), slice, ing('a', { [ANNOTATION]: 'GRPC' })], want: { 'default/grpc:80/h2c': 'h2c' } },
  { name: 'grpcs (any case): h2', objects: [svc(), slice, ing('a', { [ANNOTATION]: 'grpcs' })], want: { 'default/grpc:80/h2': 'h2' } },
  { name: 'appProtocol kubernetes.io/h2c: h2c', objects: [svc('kubernetes.io/h2c'), slice, ing('a')], want: { 'default/grpc:80': 'h2c' } },
  { name: 'HTTP wins over appProtocol? no: HTTP is the default, appProtocol still says h2c', objects: [svc('kubernetes.io/h2c'), slice, ing('a', { [ANNOTATION]: 'HTTP' })], want: { 'default/grpc:80': 'h2c' } },
  { name: 'an unknown appProtocol: HTTP/1.1', objects: [svc('kubernetes.io/ws'), slice, ing('a')], want: { 'default/grpc:80': undefined } },
  {
    name: 'one Ingress with GRPC and one without share the Service port, each with its own backend',
    objects: [svc(), slice, ing('a', { [ANNOTATION]: 'GRPC' }), ing('b')],
    want: { 'default/grpc:80': undefined, 'default/grpc:80/h2c': 'h2c' },
  },
  {
    name: 'HTTPS is not spoken to a backend: a warning, once for the Ingress, HTTP/1.1',
    objects: [svc(), slice, ing('a', { [ANNOTATION]: 'HTTPS' })],
    want: { 'default/grpc:80': undefined },
    diagnostics: [['ING_ERR_INGRESS_UNSUPPORTED', 'Ingress default/a']],
  },
  {
    name: 'a bad value: an error, once, and no effect',
    objects: [svc(), slice, ing('a', { [ANNOTATION]: 'SPDY' })],
    want: { 'default/grpc:80': undefined },
    diagnostics: [['ING_ERR_INGRESS_INVALID_ANNOTATION', 'Ingress default/a']],
  },
];

describe('backend protocol', () => {
  it.each(cases)('$name', ({ objects, want, diagnostics }) => {
    const result = compileObjects([ingressClass(), ...objects]);
    const got = Object.fromEntries(result.table.backends.map((c) => [c.id, c.protocol]));
    expect(got).toEqual(want);
    expect(codes(result)).toEqual(diagnostics ?? []);
    for (const c of result.table.backends) expect(c.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['10.0.0.9:50051']);
  });

  it('leaves the field out of an HTTP/1.1 backend (same encoded bytes as before)', () => {
    const [c] = compileObjects([ingressClass(), svc(), slice, ing('a')]).table.backends;
    expect(c !== undefined && 'protocol' in c).toBe(false);
  });
});
