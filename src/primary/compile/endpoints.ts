/**
 * Endpoint resolution from EndpointSlices, with the KEP-1669 rules kube-proxy uses: ready
 * endpoints take traffic; terminating endpoints that still serve take it only when nothing is
 * ready, so that a rollout where every pod is terminating does not turn into 503s.
 */
import { endpointKey } from '../../shared/keys.js';
import type { Endpoint } from '../../shared/snapshot.js';
import type { EndpointSlice, SliceEndpoint } from '../model.js';
import { compareText } from './context.js';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^(?=.*:)[0-9a-fA-F:.]+$/;

/**
 * resolveEndpoints merges the slices of one Service into the endpoints of one of its ports.
 *
 * `portName` is the Service port's name (absent and `""` are the same name). A slice takes
 * part only when its `ports[]` holds an entry of that name with a port number; FQDN slices
 * and addresses that are not IP literals of the slice's family are skipped. The same
 * `ip:port` in two slices (normal for a moment during updates) counts once. The result is
 * sorted by address, then port.
 */
export function resolveEndpoints(slices: Iterable<EndpointSlice>, portName: string | undefined): Endpoint[] {
  const ready = new Map<string, Endpoint>();
  const fallback = new Map<string, Endpoint>();
  // Slices in name order, so that when two slices disagree about one address the same one wins.
  const ordered = [...slices].sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  for (const slice of ordered) {
    const family = slice.addressType === 'IPv4' ? IPV4 : slice.addressType === 'IPv6' ? IPV6 : undefined;
    if (family === undefined) continue;
    const port = slice.ports?.find((p) => (p.name ?? '') === (portName ?? ''))?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints) {
      const state = classify(ep);
      if (state === 'drop') continue;
      const into = state === 'ready' ? ready : fallback;
      for (const address of ep.addresses) {
        if (!family.test(address)) continue;
        const key = endpointKey(address, port);
        if (!into.has(key)) into.set(key, makeEndpoint(address, port, state === 'ready', ep.zone));
      }
    }
  }
  const chosen = ready.size > 0 ? ready : fallback;
  return [...chosen.values()].sort((a, b) => compareText(a.address, b.address) || a.port - b.port);
}

/**
 * classify applies the EndpointSlice condition defaults: ready is nil-means-true, terminating
 * nil-means-false, serving nil-means-ready. A terminating endpoint is never ready, whatever
 * its `ready` flag says.
 */
function classify(ep: SliceEndpoint): 'ready' | 'terminating' | 'drop' {
  const ready = ep.conditions?.ready !== false;
  const terminating = ep.conditions?.terminating === true;
  const serving = ep.conditions?.serving ?? ready;
  if (ready && !terminating) return 'ready';
  if (terminating && serving) return 'terminating';
  return 'drop';
}

/** makeEndpoint builds an Endpoint with a fixed key order; `zone` is present only when set. */
function makeEndpoint(address: string, port: number, ready: boolean, zone: string | undefined): Endpoint {
  const endpoint = { address, port, weight: 1, ready, terminating: !ready };
  return zone === undefined || zone === '' ? endpoint : { ...endpoint, zone };
}
