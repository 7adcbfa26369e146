// The manifests every load script runs Flusso on: one Ingress in front of one Service whose one
// endpoint is the local backend. With `host`, a host rule; without, the Ingress default backend.
// `annotations` (an object) go on the Ingress, e.g. { 'flusso.dev/cache': 'true' }; with
// `tlsSecretName`, the host is served over TLS with that Secret (spec.tls).

/** singleBackendManifests renders the YAML for a backend on 127.0.0.1:port. */
export function singleBackendManifests({ port, host, namespace = 'default', name = 'backend', annotations, tlsSecretName }) {
  const backend = `{ service: { name: ${name}, port: { number: 80 } } }`;
  const tls = tlsSecretName === undefined ? '' : `  tls: [ { hosts: [ ${host} ], secretName: ${tlsSecretName} } ]\n`;
  const spec = host === undefined
    ? `  defaultBackend: ${backend}`
    : `${tls}  rules: [ { host: ${host}, http: { paths: [ { path: /, pathType: Prefix, backend: ${backend} } ] } } ]`;
  return `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: flusso }
spec: { controller: flusso.dev/ingress-controller }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: bench, namespace: ${namespace}${annotationsYaml(annotations)} }
spec:
  ingressClassName: flusso
${spec}
---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace} }
spec: { ports: [ { port: 80, targetPort: ${port} } ] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: ${namespace}, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [ { port: ${port} } ]
endpoints: [ { addresses: [ 127.0.0.1 ] } ]
`;
}

function annotationsYaml(annotations) {
  const entries = Object.entries(annotations ?? {});
  if (entries.length === 0) return '';
  return `, annotations: { ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(String(v))}`).join(', ')} }`;
}

/**
 * bulkObjects renders Ingress `ing-<i>` (host app-<i>.bench.test), Service `svc-<i>` and its
 * EndpointSlice (the given addresses, port `port`) in namespace `bench`: one app of the
 * propagation-style benches, which load thousands of them.
 */
export function bulkObjects(i, port, addresses = ['127.0.0.1']) {
  return [
    `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ing-${i}, namespace: bench }
spec:
  ingressClassName: flusso
  rules: [ { host: app-${i}.bench.test, http: { paths: [ { path: /, pathType: Prefix, backend: { service: { name: svc-${i}, port: { number: 80 } } } } ] } } ]`,
    `apiVersion: v1
kind: Service
metadata: { name: svc-${i}, namespace: bench }
spec: { ports: [ { port: 80, targetPort: ${port} } ] }`,
    bulkEndpointSlice(i, port, addresses),
  ];
}

/** bulkEndpointSlice renders the EndpointSlice of bulkObjects' app `i`. */
export function bulkEndpointSlice(i, port, addresses) {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: svc-${i}-1, namespace: bench, labels: { kubernetes.io/service-name: svc-${i} } }
addressType: IPv4
ports: [ { port: ${port} } ]
endpoints: [ ${addresses.map((a) => `{ addresses: [ ${a} ] }`).join(', ')} ]`;
}

/** bulkManifests renders our IngressClass and `n` bulkObjects apps as one multi-document YAML. */
export function bulkManifests(n, port) {
  const docs = ['apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: { name: flusso }\nspec: { controller: flusso.dev/ingress-controller }'];
  for (let i = 0; i < n; i++) docs.push(...bulkObjects(i, port));
  return docs.join('\n---\n') + '\n';
}

/**
 * annotatedBackendManifests: one host-less rule `/(.*)` (a regex path) to the backend on `port`,
 * with the ingress-nginx annotations of the comma-separated `groups` in force: `rewrite`
 * (rewrite-target `/$1`, so the backend sees the same path), `cors` (enable-cors), `limit` (a
 * limit-rps it never reaches), `allow` (an allow-list of six ranges, the loopback one last, so
 * every request walks the list), `headers` (custom-headers: two response fields from a ConfigMap;
 * the Flusso under test needs --global-allowed-response-headers X-Frame-Options,X-Content-Type-Options).
 * The hot-path cost figures of docs/annotations.md use it.
 */
export function annotatedBackendManifests({ port, groups }) {
  const n = 'nginx.ingress.kubernetes.io/';
  const want = new Set(groups.split(','));
  const annotations = {
    [`${n}use-regex`]: 'true',
    ...(want.has('rewrite') ? { [`${n}rewrite-target`]: '/$1' } : {}),
    ...(want.has('cors') ? { [`${n}enable-cors`]: 'true' } : {}),
    ...(want.has('limit') ? { [`${n}limit-rps`]: '100000000' } : {}),
    ...(want.has('allow') ? { [`${n}whitelist-source-range`]: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fd00::/8,127.0.0.0/8' } : {}),
    ...(want.has('headers') ? { [`${n}custom-headers`]: 'default/bench-headers' } : {}),
  };
  const configMap = want.has('headers') ? '---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: bench-headers, namespace: default }\ndata: { X-Frame-Options: DENY, X-Content-Type-Options: nosniff }\n' : '';
  const manifests = singleBackendManifests({ port, annotations })
    .replace(/  defaultBackend: (\{ service: .* \} \})/, (_, backend) => `  rules: [ { http: { paths: [ { path: "/(.*)", pathType: ImplementationSpecific, backend: ${backend} } ] } } ]`);
  return configMap === '' ? manifests : `${manifests.replace(/\n?$/, '\n')}${configMap}`;
}
