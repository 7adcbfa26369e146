/**
 * What the explainer and the GUI's Routes view say about a route's header block (issue 15 item 4,
 * docs/annotations.md "Custom headers"): the ConfigMaps in force and the header names they set.
 */
import type { RouteHeaders } from '../shared/custom-headers.js';

/** headersInForce lists, short, custom-headers and the add-headers / proxy-set-headers settings on a route. */
export function headersInForce(h: RouteHeaders): string[] {
  const out: string[] = [];
  if (h.customHeaders !== undefined) out.push(`custom-headers ${h.customHeaders.configMap}: ${h.customHeaders.names.join(', ') || '(no field)'}`);
  if (h.addHeaders !== undefined) out.push(`add-headers ${h.addHeaders}`);
  if (h.proxySetHeaders !== undefined) out.push(`proxy-set-headers ${h.proxySetHeaders}: ${(h.request ?? []).map((f) => f.name).join(', ')}`);
  return out;
}

/** describeHeaders says what the block does to every request and response of the route. */
export function describeHeaders(h: RouteHeaders): string[] {
  const out: string[] = [];
  const response = h.response ?? [];
  if (response.length > 0) {
    const names: string[] = [];
    for (let i = 0; i < response.length; i += 2) names.push(response[i] as string);
    const from = [h.customHeaders === undefined ? '' : `custom-headers ConfigMap ${h.customHeaders.configMap}`, h.addHeaders === undefined ? '' : `add-headers ConfigMap ${h.addHeaders}`].filter((s) => s !== '').join(' and ');
    out.push(`response fields ${names.join(', ')} set on every response of this route, whatever its status, in place of the upstream's (${from})`);
  }
  if (h.request !== undefined && h.request.length > 0)
    out.push(`request fields ${h.request.map((f) => `${f.name}: ${f.parts.join('')}`).join('; ')} sent upstream (proxy-set-headers ConfigMap ${h.proxySetHeaders ?? ''})`);
  return out;
}
