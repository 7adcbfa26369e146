import { describe, expect, it } from 'vitest';
import { parseManifestFile } from '../../../../src/primary/sources/manifests.js';

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - name: http
      port: 80
      targetPort: 8080
`;

/** summary reduces diagnostics to [code, severity, object, file]. */
function summary(text: string): [string, string, string, string | undefined][] {
  return parseManifestFile('x.yaml', text).diagnostics.map((d) => [d.code, d.severity, d.object, d.file]);
}

describe('parseManifestFile', () => {
  it('reads multiple documents, skips empty ones and comments, and defaults the namespace', () => {
    const text = `# leading comment\n---\n${SERVICE}---\n---\n# only a comment\n---\napiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: flusso
  namespace: ignored-for-cluster-scoped
spec:
  controller: flusso.dev/ingress-controller # trailing comment
`;
    const parsed = parseManifestFile('x.yaml', text);
    expect(parsed).toStrictEqual({
      objects: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'default' },
          spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'IngressClass',
          metadata: { name: 'flusso' },
          spec: { controller: 'flusso.dev/ingress-controller' },
        },
      ],
      secrets: [],
      diagnostics: [],
      parsed: true,
      rejected: [],
    });
  });

  it('expands kind: List items', () => {
    const text = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: { name: a, namespace: one }
  - apiVersion: v1
    kind: Service
    metadata: { name: b, namespace: two }
`;
    const parsed = parseManifestFile('x.yaml', text);
    expect(parsed.objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['one/a', 'two/b']);
    expect(parsed.diagnostics).toEqual([]);
  });

  it('keeps creationTimestamp as written and drops fields Flusso does not use', () => {
    const parsed = parseManifestFile(
      'x.yaml',
      `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  creationTimestamp: "2024-03-01T10:00:00.5+01:00"
  resourceVersion: "123"
  uid: 7c0b
  managedFields: [{ manager: kubectl }]
spec:
  ingressClassName: flusso
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: { service: { name: web, port: { number: 80 } } }
status:
  loadBalancer: {}
`,
    );
    expect(parsed.objects).toStrictEqual([
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'web', namespace: 'shop', creationTimestamp: '2024-03-01T10:00:00.5+01:00' },
        spec: {
          ingressClassName: 'flusso',
          rules: [
            {
              host: 'shop.example.com',
              http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] },
            },
          ],
        },
      },
    ]);
  });

  // Issue #11 item 9: a field under spec that is not an Ingress v1 field is kept as a name, so the
  // compiler can say it is ignored (here v1beta1's serviceName/servicePort and a typo).
  it('lists the fields under spec that Ingress v1 does not have', () => {
    const parsed = parseManifestFile(
      'x.yaml',
      `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web }
spec:
  tlss: []
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            pathtype: Prefix
            backend: { service: { name: web, port: { number: 80 } }, serviceName: web, servicePort: 80 }
`,
    );
    const [ing] = parsed.objects;
    expect(ing?.kind === 'Ingress' ? ing.ignoredFields : undefined).toEqual([
      'spec.rules[0].http.paths[0].backend.serviceName',
      'spec.rules[0].http.paths[0].backend.servicePort',
      'spec.rules[0].http.paths[0].pathtype',
      'spec.tlss',
    ]);
  });

  it('reads an EndpointSlice with conditions, and JSON text', () => {
    const json = JSON.stringify({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv6',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['fd00::1'], conditions: { ready: true, serving: null }, zone: 'z1' }],
    });
    const parsed = parseManifestFile('x.json', json);
    expect(parsed.objects).toStrictEqual([
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv6',
        endpoints: [{ addresses: ['fd00::1'], conditions: { ready: true }, zone: 'z1' }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('rejects a file with a YAML syntax error as a whole, reporting the line', () => {
    const text = `${SERVICE}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n`;
    const parsed = parseManifestFile('broken.yaml', text);
    expect(parsed.objects).toEqual([]);
    expect(parsed.parsed).toBe(false);
    expect(parsed.diagnostics).toHaveLength(1);
    const [d] = parsed.diagnostics;
    expect(d).toMatchObject({ code: 'ING_ERR_MANIFEST_PARSE', severity: 'error', file: 'broken.yaml', object: 'document 2' });
    expect(d?.message).toMatch(/^file is not valid YAML at line 1[45] \(.+\); nothing in it applies until it parses$/);
    // Read again after a good version: the diagnostic says that version stays.
    const again = parseManifestFile('broken.yaml', text, { file: true, object: () => true });
    expect(again.diagnostics[0]?.message).toMatch(/^file is not valid YAML at line 1[45] \(.+\); the file is kept at its last good version$/);
  });

  it('rejects duplicate keys and alias bombs as parse errors', () => {
    expect(summary('a: 1\na: 2\n')).toEqual([['ING_ERR_MANIFEST_PARSE', 'error', 'document 1', 'x.yaml']]);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const n of 'bcdefghij') bomb.push(`${n}: &${n} [${Array(10).fill(`*${String.fromCharCode(n.charCodeAt(0) - 1)}`).join(', ')}]`);
    expect(parseManifestFile('x.yaml', bomb.join('\n')).parsed).toBe(false);
  });

  it('drops invalid objects alone, naming the field, and lists the ones it can identify', () => {
    const text = `${SERVICE}---
apiVersion: v1
kind: Service
metadata: { name: bad, namespace: shop }
spec:
  ports: [{ port: "eighty" }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: bad }
spec:
  rules:
    - host: 42
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: { name: old }
---
apiVersion: v1
kind: Service
metadata: { namespace: shop }
---
- just
- a list
---
kind: Service
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: stamped
  creationTimestamp: last tuesday
---
apiVersion: v1
kind: Service
metadata:
  name: labelled
  labels: { tier: 1 }
`;
    // The file gave shop/bad and default/labelled a version before: those stay.
    const parsed = parseManifestFile('x.yaml', text, { file: true, object: (id) => id.key === 'shop/bad' || id.key === 'default/labelled' });
    expect(parsed.objects.map((o) => o.metadata.name)).toEqual(['web']);
    const none = '(it has no last good version yet)';
    expect(parsed.diagnostics.map((d) => [d.code, d.object, d.message])).toEqual([
      ['ING_ERR_MANIFEST_INVALID', 'Service shop/bad', 'spec.ports[0].port must be an integer from 1 to 65535; Service shop/bad is kept at its last good version'],
      ['ING_ERR_MANIFEST_INVALID', 'Ingress default/bad', `spec.rules[0].host must be a string; Ingress default/bad is not applied ${none}`],
      [
        'ING_ERR_MANIFEST_INVALID',
        'Ingress default/old',
        `apiVersion extensions/v1beta1 is not read for Ingress, only networking.k8s.io/v1; Ingress default/old is not applied ${none}`,
      ],
      ['ING_ERR_MANIFEST_INVALID', 'document 5', 'metadata.name must be a string; the object is not applied'],
      ['ING_ERR_MANIFEST_INVALID', 'document 6', 'document is not an object; the document is not applied'],
      ['ING_ERR_MANIFEST_INVALID', 'document 7', 'object has no string apiVersion and kind; the document is not applied'],
      [
        'ING_ERR_MANIFEST_INVALID',
        'Ingress default/stamped',
        `metadata.creationTimestamp must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z; Ingress default/stamped is not applied ${none}`,
      ],
      ['ING_ERR_MANIFEST_INVALID', 'Service default/labelled', 'metadata.labels["tier"] must be a string; Service default/labelled is kept at its last good version'],
    ]);
    expect(parsed.diagnostics.every((d) => d.file === 'x.yaml' && d.severity === 'error')).toBe(true);
    expect(parsed.rejected).toEqual([
      { kind: 'Service', key: 'shop/bad' },
      { kind: 'Ingress', key: 'default/bad' },
      { kind: 'Ingress', key: 'default/old' },
      { kind: 'Ingress', key: 'default/stamped' },
      { kind: 'Service', key: 'default/labelled' },
    ]);
  });

  it('refuses an Ingress whose path has an unknown or no pathType, as the API server does', () => {
    const ingressWith = (name: string, pathType: string): string => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${name} }
spec:
  rules:
    - http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }
          - { path: /api, ${pathType}backend: { service: { name: api, port: { number: 80 } } } }
`;
    const parsed = parseManifestFile('x.yaml', `${ingressWith('regex', 'pathType: Regex, ')}---\n${ingressWith('untyped', '')}`);
    expect(parsed.objects).toEqual([]);
    expect(parsed.diagnostics.map((d) => [d.code, d.object, d.message])).toEqual([
      ['ING_ERR_MANIFEST_INVALID', 'Ingress default/regex', 'spec.rules[0].http.paths[1].pathType must be Exact, Prefix or ImplementationSpecific, not "Regex"; Ingress default/regex is not applied (it has no last good version yet)'],
      ['ING_ERR_MANIFEST_INVALID', 'Ingress default/untyped', 'spec.rules[0].http.paths[1].pathType must be Exact, Prefix or ImplementationSpecific (it is required); Ingress default/untyped is not applied (it has no last good version yet)'],
    ]);
    expect(parsed.rejected).toEqual([
      { kind: 'Ingress', key: 'default/regex' },
      { kind: 'Ingress', key: 'default/untyped' },
    ]);
  });

  it('warns about kinds it does not read, and reads Secrets apart (stringData encoded, as the API server does)', () => {
    const text = `apiVersion: v1
kind: Pod
metadata: { name: settings, namespace: shop }
---
apiVersion: v1
kind: Secret
metadata: { name: tls }
type: kubernetes.io/tls
data: { tls.crt: Y3J0 }
stringData: { tls.key: key }
---
${SERVICE}`;
    const parsed = parseManifestFile('x.yaml', text);
    expect(parsed.objects.map((o) => o.kind)).toEqual(['Service']);
    expect(parsed.secrets).toEqual([{ namespace: 'default', name: 'tls', type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5' } }]);
    expect(parsed.diagnostics).toEqual([
      {
        code: 'ING_ERR_MANIFEST_UNSUPPORTED_KIND',
        severity: 'warning',
        object: 'Pod shop/settings',
        message: 'Pod (v1) is a kind Flusso does not read; ignored',
        file: 'x.yaml',
      },
    ]);
  });

  it('reads a ConfigMap\'s data (header lists: custom-headers, add-headers, proxy-set-headers), and refuses a non-string value', () => {
    const parsed = parseManifestFile('x.yaml', `apiVersion: v1
kind: ConfigMap
metadata: { name: hdrs, namespace: shop }
data: { X-Team: blue }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: bad, namespace: shop }
data: { X-Team: [1] }`);
    expect(parsed.objects).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hdrs', namespace: 'shop' }, data: { 'X-Team': 'blue' } }]);
    expect(parsed.diagnostics.map((d) => [d.code, d.object])).toEqual([['ING_ERR_MANIFEST_INVALID', 'ConfigMap shop/bad']]);
  });

  it('returns nothing for an empty file', () => {
    expect(parseManifestFile('x.yaml', '')).toStrictEqual({ objects: [], secrets: [], diagnostics: [], parsed: true, rejected: [] });
  });
});
