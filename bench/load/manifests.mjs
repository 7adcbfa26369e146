// The manifests every load script runs Flusso on: one Ingress in front of one Service whose one
// endpoint is the local backend. With `host`, a host rule; without, the Ingress default backend.
// `annotations` (an object) go on the Ingress, e.g. { 'flusso.dev/cache': 'true' }.

/** singleBackendManifests renders the YAML for a backend on 127.0.0.1:port. */
export function singleBackendManifests({ port, host, namespace = 'default', name = 'backend', annotations }) {
  const backend = `{ service: { name: ${name}, port: { number: 80 } } }`;
  const spec = host === undefined
    ? `  defaultBackend: ${backend}`
    : `  rules: [ { host: ${host}, http: { paths: [ { path: /, pathType: Prefix, backend: ${backend} } ] } } ]`;
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
