/**
 * Named input shapes for the microbenchmarks: a routing table as the compiler emits it for
 * `ingresses` Ingresses, each with its own host, three paths (Exact /healthz, Prefix /api,
 * Prefix /) and a Service with `endpointsPerCluster` endpoints; every tenth host is a wildcard.
 */
import { NO_OVERRIDES, SNAPSHOT_VERSION, type Backend, type RoutingSnapshot, type RoutingTable, type VirtualHost } from '../../src/shared/snapshot.js';

/** hostOf names the i-th host of a generated table (wildcards match `x.<rest>`). */
export function hostOf(i: number): string {
  return i % 10 === 9 ? `*.tenant-${i}.example.com` : `app-${i}.tenant-${i}.example.com`;
}

/** requestHostOf is a Host header that hits the i-th virtual host. */
export function requestHostOf(i: number): string {
  return i % 10 === 9 ? `x.tenant-${i}.example.com` : `app-${i}.tenant-${i}.example.com`;
}

/** table builds the routing table of `ingresses` Ingresses. */
export function table(ingresses: number, endpointsPerCluster = 3): RoutingTable {
  const hosts: VirtualHost[] = [];
  const backends: Backend[] = [];
  for (let i = 0; i < ingresses; i++) {
    const backend = `ns-${i}/svc-${i}:80`;
    const source = `ns-${i}/ing-${i}`;
    hosts.push({
      host: hostOf(i),
      routes: [
        { match: 'Exact', path: '/healthz', backend, source },
        { match: 'Prefix', path: '/api', backend, source },
        { match: 'Prefix', path: '/', backend, source },
      ],
    });
    const endpoints = [];
    for (let e = 0; e < endpointsPerCluster; e++)
      endpoints.push({ address: `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`, port: 8080, weight: 1, ready: true, terminating: false });
    backends.push({ id: backend, service: `ns-${i}/svc-${i}`, servicePort: 80, endpoints, loadBalancer: 'round-robin' });
  }
  hosts.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  backends.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { hosts, defaultBackend: null, backends };
}

/** snapshot wraps table(ingresses) as the broadcaster would. */
export function snapshot(ingresses: number): RoutingSnapshot {
  return { version: SNAPSHOT_VERSION, generation: 1, table: table(ingresses), overrides: NO_OVERRIDES, tls: null };
}
