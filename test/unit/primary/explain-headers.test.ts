/**
 * The explainer and the GUI's Routes view on a route with custom-headers, add-headers and
 * proxy-set-headers (issue 15 item 4): the ConfigMaps and the header names in force are shown,
 * and the explanation says the fields go on every response and upstream request.
 */
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import { annotationsInForce } from '../../../src/primary/explain-annotations.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';

const headed: Route = {
  match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web',
  headers: { response: ['X-Global', 'yes', 'X-Team', 'blue'], customHeaders: { configMap: 'ns/hdrs', names: ['X-Team'] }, addHeaders: 'ingress/add', request: [{ name: 'x-via', parts: ['flusso'] }, { name: 'x-host', parts: ['$host'] }], proxySetHeaders: 'ingress/proxy' },
};
const plain: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/plain' };
const table: RoutingTable = { hosts: [{ host: 'h.test', routes: [headed] }, { host: 'p.test', routes: [plain] }], defaultBackend: null, backends: [] };

describe('custom headers in the explainer and the Routes view', () => {
  it('shows the ConfigMaps and the header names in force', () => {
    expect(annotationsInForce(headed)).toEqual(['custom-headers ns/hdrs: X-Team', 'add-headers ingress/add', 'proxy-set-headers ingress/proxy: x-via, x-host']);
    expect(annotationsInForce(plain)).toEqual([]);
  });

  it('says what they do to the request and every response', () => {
    expect(explainRoute(table, 'h.test', '/x').annotations).toEqual([
      "response fields X-Global, X-Team set on every response of this route, whatever its status, in place of the upstream's (custom-headers ConfigMap ns/hdrs and add-headers ConfigMap ingress/add)",
      'request fields x-via: flusso; x-host: $host sent upstream (proxy-set-headers ConfigMap ingress/proxy)',
    ]);
    expect(explainRoute(table, 'p.test', '/x').annotations ?? []).toEqual([]);
  });
});
