/**
 * objectKey builds the one string form used everywhere for a namespaced object: `namespace/name`.
 * Cluster-scoped objects (IngressClass) use their bare name.
 */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * splitObjectKey is the inverse of objectKey for namespaced keys.
 */
export function splitObjectKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  if (slash < 0) return { namespace: '', name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * backendId names the backend for one Service port as an Ingress referenced it:
 * `namespace/service:port`, where port is the number or the port name exactly as written.
 */
export function backendId(namespace: string, service: string, port: number | string): string {
  return `${namespace}/${service}:${port}`;
}

/**
 * endpointKey names one endpoint address of a backend: `ip:port` (IPv6 in brackets).
 */
export function endpointKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * overrideKey names one endpoint of one backend in admin overrides: `backendId|ip:port`
 * (the balancer looks drained endpoints and weight overrides up by it).
 */
export function overrideKey(backendId: string, address: string, port: number): string {
  return `${backendId}|${endpointKey(address, port)}`;
}
