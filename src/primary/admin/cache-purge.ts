/**
 * The body of `POST /api/v1/cache/purge`, checked strictly: `{host?, pathPrefix?, ingress?}`
 * (every given field must match), or `{"all": true}` to purge everything. An empty body or
 * `{}` is refused rather than read as "everything", so a script that lost its arguments cannot
 * wipe every cache by accident.
 */
import { normalizeHost } from '../../shared/host.js';
import type { CachePurgeSelector } from '../../shared/messages.js';
import { normalizePath } from '../../shared/request-path.js';

/** PurgeRequest is a checked purge body: a normalised selector, or the reason it was refused. */
export type PurgeRequest = { readonly ok: true; readonly selector: CachePurgeSelector } | { readonly ok: false; readonly error: string };

const FIELDS = ['host', 'pathPrefix', 'ingress', 'all'] as const;
const USAGE = 'send {"host": "shop.example.com", "pathPrefix": "/img/", "ingress": "namespace/name"} (any of them; all given must match), or {"all": true} to purge everything';
/** RFC 1123 host name labels, lower case (after normalising). */
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A namespace is a DNS-1123 label; an Ingress name a DNS-1123 subdomain. */
const NAMESPACE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;
const MAX_PATH_PREFIX = 2048;

const refuse = (error: string): PurgeRequest => ({ ok: false, error });

/** parsePurgeRequest checks a purge body and normalises it (host lower case without port). */
export function parsePurgeRequest(body: unknown): PurgeRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse(`the body must be a JSON object: ${USAGE}`);
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) return refuse(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}: ${USAGE}`);
  const { host, pathPrefix, ingress, all } = fields;
  const selecting = host !== undefined || pathPrefix !== undefined || ingress !== undefined;
  if (all !== undefined) {
    if (all !== true) return refuse('"all" must be true (or left out)');
    if (selecting) return refuse('"all" cannot be combined with "host", "pathPrefix" or "ingress"');
    return { ok: true, selector: {} };
  }
  if (!selecting) return refuse(`nothing selected: ${USAGE}`);
  const selector: { host?: string; pathPrefix?: string; ingress?: string } = {};
  if (host !== undefined) {
    const h = checkHost(host);
    if (h === null) return refuse('"host" must be a host name such as shop.example.com (an optional :port is dropped; no wildcard, no scheme, no path)');
    selector.host = h;
  }
  if (pathPrefix !== undefined) {
    if (typeof pathPrefix !== 'string' || pathPrefix.includes('?') || pathPrefix.length > MAX_PATH_PREFIX) return refuse(`"pathPrefix" must be a path of at most ${MAX_PATH_PREFIX} characters starting with "/", without a query`);
    // The same normalisation the proxy applies before routing and keying, so the prefix meets the keys as stored.
    const p = normalizePath(pathPrefix);
    if (p === null) return refuse('"pathPrefix" must start with "/" and hold no spaces, control characters, "#" or broken %-escapes');
    selector.pathPrefix = p;
  }
  if (ingress !== undefined) {
    const slash = typeof ingress === 'string' ? ingress.indexOf('/') : -1;
    if (typeof ingress !== 'string' || slash < 0 || !NAMESPACE.test(ingress.slice(0, slash)) || !NAME.test(ingress.slice(slash + 1)))
      return refuse('"ingress" must be "namespace/name" of an Ingress, e.g. "shop/web"');
    selector.ingress = ingress;
  }
  return { ok: true, selector };
}

/** checkHost returns the host lower-cased without port or trailing dot, or null when it is not a host name or IP literal. */
function checkHost(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 260) return null;
  const h = normalizeHost(raw);
  if (h === null || h === '') return null;
  if (h.startsWith('[')) return h;
  if (h.length > 253) return null;
  return h.split('.').every((label) => HOST_LABEL.test(label)) ? h : null;
}
