/**
 * One rule for a broken Ingress (issue 14 item 6): every check of one path that the API server
 * would make fails validation of the whole Ingress (so a live edit keeps its last good version),
 * whatever it is: the pathType, the path, the host, the backend. Values are quoted bounded.
 */
import { describe, expect, it } from 'vitest';
import { validateObject } from '../../../../src/primary/sources/validate-object.js';

const ingress = (rule: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'shop', namespace: 'team' },
  spec: { rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }, rule] },
});
const path = (p: Record<string, unknown>): Record<string, unknown> => ({ host: 'shop.example', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } }, ...p }] } });

describe('validateObject: an Ingress with one broken path is invalid as a whole', () => {
  it.each([
    { name: 'unknown pathType', rule: path({ pathType: 'Bogus' }), want: 'spec.rules[1].http.paths[0].pathType must be Exact, Prefix or ImplementationSpecific, not "Bogus"' },
    { name: 'missing pathType', rule: path({ pathType: undefined }), want: 'spec.rules[1].http.paths[0].pathType must be Exact, Prefix or ImplementationSpecific (it is required)' },
    { name: 'relative path', rule: path({ path: 'api' }), want: 'spec.rules[1].http.paths[0]: path "api" does not start with "/"' },
    { name: 'path with a space', rule: path({ path: '/a b' }), want: 'spec.rules[1].http.paths[0]: path "/a b" contains a space, a control character, "?" or "#"' },
    { name: 'Exact without a path', rule: path({ path: undefined, pathType: 'Exact' }), want: 'spec.rules[1].http.paths[0]: Exact with no path needs a path' },
    { name: 'invalid host', rule: { ...path({}), host: 'bad_host.example' }, want: 'spec.rules[1].host "bad_host.example" is not a DNS name or a one-label wildcard such as *.example.com' },
    { name: 'backend with no port', rule: path({ backend: { service: { name: 'api' } } }), want: 'spec.rules[1].http.paths[0].backend.service.port must have a number or a name' },
    { name: 'backend with neither service nor resource', rule: path({ backend: { serviceName: 'api', servicePort: 80 } }), want: 'spec.rules[1].http.paths[0].backend must name a service or a resource, and names neither (serviceName and servicePort are v1beta1 fields: v1 has service.name and service.port)' },
  ])('$name', ({ rule, want }) => {
    expect(() => validateObject('Ingress', ingress(rule))).toThrow(want);
  });

  it('quotes a huge pathType bounded', () => {
    expect(() => validateObject('Ingress', ingress(path({ pathType: 'B'.repeat(1 << 20) })))).toThrow(/not "B{200}"… \(1048376 more characters\)$/);
  });

  it('keeps a resource backend: valid Kubernetes, which the compiler reports for that path alone', () => {
    expect(() => validateObject('Ingress', ingress(path({ backend: { resource: { kind: 'Bucket', name: 'b' } } })))).not.toThrow();
  });
});
