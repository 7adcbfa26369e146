/**
 * An Ingress whose backend is this Flusso (issue 14 item 5): an endpoint that is one of its own
 * listeners on a local address is not used, and each Ingress that leads to it gets a diagnostic.
 */
import { describe, expect, it } from 'vitest';
import { compileState, updateEndpoints } from '../../../../src/primary/compile/index.js';
import { selfListenerOf, type SelfListeners } from '../../../../src/primary/compile/self-listeners.js';
import { ObjectStore } from '../../../../src/primary/store.js';
import { backend, endpointSlice, ingress, ingressClass, OPTS, path, rule, service, sliceEndpoint } from '../../../helpers/k8s.js';

const SELF: SelfListeners = {
  listeners: [
    { name: 'HTTP', port: 8080, address: '0.0.0.0' },
    { name: 'HTTPS', port: 8443, address: '::' },
    { name: 'admin', port: 8081, address: '127.0.0.1' },
  ],
  localAddresses: ['10.1.2.3', 'fe80::1'],
};

describe('selfListenerOf', () => {
  it.each([
    { name: 'loopback to a wildcard listener', address: '127.0.0.1', port: 8080, want: 'HTTP' },
    { name: 'any 127/8 address', address: '127.3.4.5', port: 8080, want: 'HTTP' },
    { name: 'an address of this host', address: '10.1.2.3', port: 8443, want: 'HTTPS' },
    { name: 'IPv6 loopback', address: '::1', port: 8443, want: 'HTTPS' },
    { name: 'IPv4-mapped loopback', address: '::ffff:127.0.0.1', port: 8080, want: 'HTTP' },
    { name: 'the admin port on its own address', address: '127.0.0.1', port: 8081, want: 'admin' },
    { name: 'the unspecified address reaches a loopback listener', address: '0.0.0.0', port: 8081, want: 'admin' },
    { name: 'another address on the admin port is another server', address: '10.1.2.3', port: 8081, want: undefined },
    { name: 'a remote address', address: '10.9.9.9', port: 8080, want: undefined },
    { name: 'another port', address: '127.0.0.1', port: 9000, want: undefined },
  ])('$name', ({ address, port, want }) => {
    expect(selfListenerOf(address, port, SELF)?.name).toBe(want);
  });
});

describe('compile with this Flusso as a backend', () => {
  const objects = [
    ingressClass(),
    service('team/loop', [{ name: 'http', port: 80, targetPort: 8081 }]),
    endpointSlice('team/loop-a', { service: 'loop', ports: [{ name: 'http', port: 8081, protocol: 'TCP' }], endpoints: [sliceEndpoint('127.0.0.1'), sliceEndpoint('10.9.9.9')] }),
    ingress('team/admin-route', { rules: [rule('admin.example', path('/', backend('loop', 80)))] }),
  ];

  it('drops the endpoint that is the admin listener and tells the Ingress; the endpoint update agrees', () => {
    const store = new ObjectStore();
    store.replaceAll(objects);
    const state = compileState(store, { ...OPTS, self: SELF });
    expect(state.table.backends[0]?.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['10.9.9.9:8081']);
    expect(state.diagnostics).toEqual([
      {
        code: 'ING_ERR_SERVICE_ENDPOINT_SELF',
        severity: 'error',
        object: 'Ingress team/admin-route',
        message: "backend Service team/loop port 80 has endpoint 127.0.0.1:8081, which is this Flusso's own admin listener; it is not used (requests would loop through the proxy or reach the admin API)",
      },
    ]);
    expect(compileState(store, OPTS).table.backends[0]?.endpoints).toHaveLength(2);
    store.upsert(endpointSlice('team/loop-a', { service: 'loop', ports: [{ name: 'http', port: 8081, protocol: 'TCP' }], endpoints: [sliceEndpoint('127.0.0.1')] }));
    const { state: after } = updateEndpoints(store, state, new Set(['team/loop']), SELF);
    expect(after.table.backends[0]?.endpoints).toEqual([]);
    expect(after.diagnostics.map((d) => d.code)).toEqual(['ING_ERR_SERVICE_ENDPOINT_SELF']);
  });
});
