/**
 * The explainer's account of a route's ingress-nginx annotations (issue 15, docs/annotations.md):
 * for one request, whether Flusso redirects it, answers a CORS preflight, rewrites it or changes
 * its Host, and which annotation makes it so. It runs the same decision the workers run
 * (shared/route-policy.ts), so what it says is what happens.
 */
import { forwardedAddress, isTrusted, type ClientAddressSettings } from '../shared/client-address.js';
import { describeHeaders, headersInForce } from './explain-headers.js';
import { RE2JS } from 're2js';
import { applyPolicy, type PolicyRequest } from '../shared/route-policy.js';
import { firstListed, parseCidr } from '../shared/cidr.js';
import type { RouteExternalAuth } from '../shared/external-auth.js';
import type { RouteRateLimit } from '../shared/rate-limit.js';
import { canaryByRequest, type RouteCanary } from '../shared/canary.js';
import { findCookie } from '../shared/upstream-hash.js';
import type { Route } from '../shared/snapshot.js';
import { sourceVerdict, type RouteSourceRange } from '../shared/source-range.js';
import { upstreamInForce } from './explain-upstream.js';

/** RequestTraits are the parts of a request beyond host and path that annotations look at. */
export interface RequestTraits {
  readonly method?: string;
  readonly scheme?: 'http' | 'https';
  /** The Origin field ('' or absent: none). */
  readonly origin?: string;
  /** The socket's peer address, for the address lists and rate limits; absent: not checked. */
  readonly clientAddress?: string;
  /** The trusted-proxy settings (docs/client-address.md): whether the peer may name the client (in `headers`); absent: it may not. */
  readonly trust?: ClientAddressSettings | null;
  /** Request fields by lower-case name, for a canary's header (absent: none sent). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The Cookie field, for a canary's cookie ('' or absent: none sent). */
  readonly cookie?: string;
}

/** regexMatches says whether a regex route's path matches `path` as the workers match it (`~* "^path"`, RE2). */
export function regexMatches(pattern: string, path: string): boolean {
  try {
    return RE2JS.compile(`(?i)^${pattern}`).test(path);
  } catch {
    return false;
  }
}

/** describeAnnotations says, one line each, what `route`'s annotations do to `req`; empty when it has none. */
export function describeAnnotations(route: Route, req: PolicyRequest, peerAddress?: string, traits: RequestTraits = {}): string[] {
  const out: string[] = [];
  const { address: clientAddress, line: whoLine, source } = clientOf(peerAddress, traits);
  if (whoLine !== null && (route.sourceRange !== undefined || route.rateLimit !== undefined || route.connLimit !== undefined)) out.push(whoLine);
  if (route.regex === true) out.push('regex host: every path of this host is a case-insensitive regular expression, tried longest first (use-regex or rewrite-target on one of its Ingresses)');
  if (route.headers !== undefined) out.push(...describeHeaders(route.headers));
  const p = route.policy;
  const decided = p === undefined ? undefined : applyPolicy(p, req);
  const ba = route.basicAuth;
  if (ba !== undefined && (decided === undefined || !('status' in decided)))
    out.push(ba.denied !== undefined ? `refused 503: the Ingress's auth-type annotations are invalid (${ba.denied}); see the diagnostics` : `needs credentials: auth-type basic, realm "${ba.realm}" (401 without a user and password of ${ba.credentials.replace(' ', ' Secret ')}; the Authorization field is not sent upstream)`);
  if (route.externalAuth !== undefined && (decided === undefined || !('status' in decided))) out.push(describeExternalAuth(route.externalAuth));
  // limit-rps / limit-rpm after the redirects and the CORS preflight (nginx's preaccess phase after rewrite).
  if (route.rateLimit !== undefined && route.rateLimit.rates.length > 0 && (decided === undefined || !('status' in decided))) out.push(describeRateLimit(route.rateLimit, clientAddress));
  if (route.connLimit !== undefined && (decided === undefined || !('status' in decided)))
    out.push(`limit-connections ${route.connLimit.max}: a client with ${route.connLimit.max} request(s) in progress on this Ingress gets 503 (counted per worker, docs/rate-limits.md)`);
  // The address lists run after the redirects and the CORS preflight (nginx's access phase after rewrite).
  if (route.sourceRange !== undefined && (decided === undefined || !('status' in decided))) {
    const [line, refused] = describeSourceRange(route.sourceRange, clientAddress, source);
    out.push(line);
    if (refused) return out;
  }
  if (route.canary !== undefined && (decided === undefined || !('status' in decided))) {
    out.push(describeCanary(route.canary));
    out.push(canaryVerdict(route.canary, route.backend, traits));
  }
  if (route.affinity !== undefined && (decided === undefined || !('status' in decided)))
    out.push(`sticky: a request with cookie ${route.affinity.name} naming a ready endpoint goes to it; otherwise the balancer picks one and Flusso sets the cookie (affinity: cookie, path ${route.affinity.path}${route.hashBy === undefined ? '' : '; it wins over upstream-hash-by'})`);
  if (route.hashBy !== undefined && (decided === undefined || !('status' in decided)))
    out.push(`endpoint chosen by consistent hashing of "${route.hashBy.join('')}" (upstream-hash-by): the same key reaches the same endpoint on every worker while it is in the EndpointSlice; when it leaves, only its keys move`);
  if (route.errorPages !== undefined && (decided === undefined || !('status' in decided)))
    out.push(`custom-http-errors: an upstream answer ${route.errorPages.codes.join(', ')} is replaced by what ${route.errorPages.backend} answers to the same method on / with X-Code and the request's X-* fields (its status is the client's)`);
  if (p === undefined || decided === undefined) return out;
  if ('status' in decided) {
    const location = decided.fields[decided.fields.indexOf('Location') + 1];
    const to = decided.fields.includes('Location') ? ` to ${location}` : '';
    if (p.hostRedirect !== undefined) out.push(`redirected: ${decided.status}${to} (from-to-www-redirect: this name redirects to ${p.hostRedirect.host})`);
    else if (p.appRoot !== undefined && req.path === '/') out.push(`redirected: ${decided.status}${to} (app-root ${p.appRoot}: the path is "/")`);
    else if (decided.status === 204) out.push(`CORS preflight answered 204 by Flusso (enable-cors: an OPTIONS from an allowed origin${req.origin === '' ? '' : `, ${req.origin}`})`);
    else out.push(`redirected: ${decided.status}${to} (permanent-redirect or temporal-redirect, with its code)`);
    return out;
  }
  if (p.rewrite !== undefined && decided.target !== null) out.push(`rewritten: the backend gets ${decided.target} (rewrite-target "${p.rewrite.target}" on path "${p.rewrite.pattern}")`);
  if (p.forwardedPrefix !== undefined) out.push(`X-Forwarded-Prefix: ${p.forwardedPrefix} sent upstream (x-forwarded-prefix)`);
  if (p.upstreamVhost !== undefined) out.push(`Host sent upstream: ${p.upstreamVhost} (upstream-vhost)`);
  if (p.cors !== undefined)
    out.push(decided.responseFields !== null ? `CORS fields added to the response (enable-cors; origin ${req.origin === '' ? 'any: cors-allow-origin is "*"' : `${req.origin} allowed`})` : `no CORS fields: origin ${req.origin === '' ? '(none sent)' : req.origin} is not in cors-allow-origin`);
  if (p.appRoot !== undefined) out.push(`app-root ${p.appRoot} applies only to the path "/"`);
  return out;
}

/**
 * describeRateLimit says what limit-rps / limit-rpm do to a client at `client` (text; absent: not
 * checked): exempt by limit-whitelist, or the rates and the burst its address shares on this
 * Ingress, for the pod as a whole (docs/rate-limits.md). Whether this very request is over the
 * limit depends on the client's recent requests, which the explainer does not see.
 */
export function describeRateLimit(limit: RouteRateLimit, client: string | undefined): string {
  const address = client === undefined ? undefined : parseCidr(client);
  const exempt = address === undefined || limit.whitelist.length === 0 ? null : firstListed(limit.whitelist, address.bytes);
  if (exempt !== null) return `not rate-limited: ${client} is in limit-whitelist entry ${exempt}`;
  const rates = limit.rates.map((r) => (Number.isInteger(r.perSecond) ? `${r.perSecond} requests/s` : `${Math.round(r.perSecond * 60)} requests/min`)).join(' and ');
  // A request needs a token from every bucket, so the smallest burst is what passes at once.
  const burst = Math.min(...limit.rates.map((r) => r.burst));
  const who = client === undefined ? 'each client address' : client;
  return `rate-limited beyond ${rates} for ${who} on this Ingress, a burst of ${burst} at once, pod-wide (limit-rps / limit-rpm; over it: 503, or --rate-limit-status; docs/rate-limits.md)`;
}

/** describeExternalAuth says what auth-url does to a request (the explainer cannot know the credentials: it says who decides). */
function describeExternalAuth(auth: RouteExternalAuth): string {
  if (auth.denied !== undefined) return `refused 503: the Ingress's auth annotations are invalid (${auth.denied}); see the diagnostics`;
  const signin = auth.signin === undefined ? '401 to the client' : `401 becomes a 302 to ${auth.signin.join('')}`;
  return `needs credentials: auth-url ${auth.url.join('')} decides (2xx: sent to the backend${auth.responseHeaders.length > 0 ? ` with ${auth.responseHeaders.join(', ')}` : ''}; ${signin}; 403 to the client; anything else 500)`;
}

/** annotationsInForce lists, short, the ingress-nginx annotations in force on a route (the GUI's Routes view). */
export function annotationsInForce(route: Route): string[] {
  const out: string[] = [];
  if (route.regex === true) out.push('use-regex');
  const range = route.sourceRange;
  if (range?.allow !== undefined) out.push(`allowlist-source-range ${range.allow.length === 0 ? '(no valid entry: nobody)' : range.allow.join(', ')}`);
  if (range !== undefined && range.deny.length > 0) out.push(`denylist-source-range ${range.deny.join(', ')}`);
  if (route.connLimit !== undefined) out.push(`limit-connections ${route.connLimit.max}`);
  if (route.basicAuth !== undefined) out.push(route.basicAuth.denied === undefined ? `auth-type basic (${route.basicAuth.credentials})` : 'auth-type basic (invalid: every request refused)');
  if (route.externalAuth !== undefined) out.push(route.externalAuth.denied === undefined ? `auth-url ${route.externalAuth.url.join('')}` : 'auth-url (invalid: every request refused)');
  if (route.upstream !== undefined || route.requestBody !== undefined) out.push(...upstreamInForce(route));
  if (route.hashBy !== undefined) out.push(`upstream-hash-by ${route.hashBy.join('')}`);
  if (route.fallbackBackend !== undefined) out.push(`default-backend ${route.fallbackBackend} (while ${route.backend} has no ready endpoint)`);
  if (route.errorPages !== undefined) out.push(`custom-http-errors ${route.errorPages.codes.join(', ')} → ${route.errorPages.backend}`);
  if (route.affinity !== undefined) out.push(`affinity cookie ${route.affinity.name} (${route.affinity.mode})`);
  if (route.canary !== undefined) out.push(`canary ${route.canary.source} → ${route.canary.backend}: ${canaryRules(route.canary)}`);
  if (route.headers !== undefined) out.push(...headersInForce(route.headers));
  const p = route.policy;
  if (p === undefined) return out;
  if (p.rewrite !== undefined) out.push(`rewrite-target ${p.rewrite.target}`);
  if (p.forwardedPrefix !== undefined) out.push(`x-forwarded-prefix ${p.forwardedPrefix}`);
  if (p.appRoot !== undefined) out.push(`app-root ${p.appRoot}`);
  if (p.upstreamVhost !== undefined) out.push(`upstream-vhost ${p.upstreamVhost}`);
  if (p.redirect !== undefined) out.push(`redirect ${p.redirect.code} ${p.redirect.url.join('')}`);
  if (p.hostRedirect !== undefined) out.push(`from-to-www-redirect → ${p.hostRedirect.host}`);
  if (p.cors !== undefined) out.push(`cors ${p.cors.origins.join(', ')}`);
  return out;
}

/**
 * describeSourceRange says what the address lists do to `client` (text, as the socket gives it),
 * or which clients they refuse when no client is given; the flag is true when it is refused.
 */
export function describeSourceRange(range: RouteSourceRange, client: string | undefined, source = "the socket's address; X-Forwarded-For is not read"): [string, boolean] {
  const allow = range.allow === undefined ? '' : `only ${range.allow.length === 0 ? 'nobody (no valid entry)' : range.allow.join(', ')} (allowlist-source-range)`;
  const deny = range.deny.length === 0 ? '' : `never ${range.deny.join(', ')} (denylist-source-range, which wins over the allow list)`;
  const lists = [allow, deny].filter((t) => t !== '').join('; ');
  if (client === undefined || client === '') return [`client addresses: ${lists}; others are refused 403 (${source}). Give a client address to check one`, false];
  const cidr = client.includes('/') ? undefined : parseCidr(client);
  if (cidr === undefined) return [`client "${client}" is not an IPv4 or IPv6 address; client addresses: ${lists}`, false];
  const v = sourceVerdict(range, cidr.bytes);
  if (!v.allowed) return [v.entry !== null ? `refused 403: client ${client} is in denylist-source-range entry ${v.entry}` : `refused 403: client ${client} is not in allowlist-source-range (${range.allow?.join(', ') || 'no valid entry'})`, true];
  return [v.entry !== null ? `client ${client} allowed: allowlist-source-range entry ${v.entry}${range.deny.length > 0 ? ', and in no denylist-source-range entry' : ''}` : `client ${client} allowed: in no denylist-source-range entry`, false];
}

/**
 * clientOf is the client address the workers would use for a request from the peer `peer`
 * (client-address.ts in the worker): the peer itself, or, with trusted-proxy settings and a
 * trusted peer, the address its forwarded field names. `line` says which and why; `source` how
 * the address is found, for the address lists' summary.
 */
function clientOf(peer: string | undefined, traits: RequestTraits): { address: string | undefined; line: string | null; source: string } {
  const t = traits.trust;
  if (t === undefined || t === null || t.source === 'none') return { address: peer, line: null, source: "the socket's address; X-Forwarded-For is not read" };
  const field = t.source === 'proxy-protocol' ? 'the PROXY protocol header' : t.header;
  const source = `the client address: the socket's, or the one ${field} names when the peer is in --proxy-real-ip-cidr ${t.trusted.join(', ')}`;
  if (peer === undefined || peer === '') return { address: peer, line: null, source };
  const bytes = peer.includes('/') ? undefined : parseCidr(peer)?.bytes;
  if (bytes === undefined) return { address: peer, line: null, source };
  if (!isTrusted(t.trusted, bytes)) return { address: peer, line: `client address ${peer}: the peer is not in --proxy-real-ip-cidr (${t.trusted.join(', ')}), so ${field} is not read`, source };
  if (t.source === 'proxy-protocol') return { address: peer, line: `the peer ${peer} is a trusted proxy: the client is the address its PROXY protocol header carries (give that address as the client to check it)`, source };
  const value = traits.headers?.[t.header] ?? '';
  const named = value === '' ? null : forwardedAddress(bytes, value, t.trusted);
  if (named === null) return { address: peer, line: `client address ${peer}: a trusted proxy, but its ${t.header} (${value === '' ? 'not sent' : `"${value}"`}) names no address`, source };
  const address = addressText(named);
  return { address, line: `client address ${address}: the trusted proxy ${peer} (--proxy-real-ip-cidr) named it in ${t.header} "${value}", walked from the right past trusted addresses`, source };
}

/** addressText writes 4 or 16 address bytes as text (IPv6 compressed, as URL hosts are). */
function addressText(b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] as number) << 8) | (b[i + 1] as number)).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** canaryVerdict says where this request goes and why, with the header and cookie it carries (shared/canary.ts decides). */
function canaryVerdict(c: RouteCanary, main: string, traits: RequestTraits): string {
  const headers = traits.headers ?? {};
  const v = canaryByRequest(c, (name) => (Object.hasOwn(headers, name) ? headers[name] : undefined), (name) => findCookie(traits.cookie ?? '', name));
  if (v !== null) return `this request goes to ${v.canary ? `the canary ${c.backend}` : `the main backend ${main}`}: its ${v.rule === 'header' ? `header ${c.header as string}` : `cookie ${c.cookie as string}`} is "${v.value}"`;
  if (c.weight <= 0) return `this request goes to the main backend ${main}: neither header nor cookie decides, and canary-weight is 0`;
  if (c.weight >= c.weightTotal) return `this request goes to the canary ${c.backend}: neither header nor cookie decides, and canary-weight is ${c.weight} of ${c.weightTotal}`;
  return `this request goes to the canary ${c.backend} or the main backend ${main} by turn: neither header nor cookie decides, and exactly ${c.weight} of every ${c.weightTotal} such requests go to the canary`;
}

/** describeCanary says when a request goes to the route's canary and why (shared/canary.ts runs the same order). */
function describeCanary(c: RouteCanary): string {
  return `canary: Ingress ${c.source} (backend ${c.backend}) takes a request when ${canaryRules(c)}; the main Ingress's annotations apply either way`;
}

/** canaryRules lists a canary's rules in the order they decide: header, cookie, weight. */
function canaryRules(c: RouteCanary): string {
  const parts: string[] = [];
  if (c.header !== undefined) {
    if (c.headerValue !== undefined) parts.push(`header ${c.header} is "${c.headerValue}" (canary-by-header-value)`);
    else if (c.headerPattern !== undefined) parts.push(`header ${c.header} matches /${c.headerPattern}/ (canary-by-header-pattern)`);
    else parts.push(`header ${c.header} is "always" ("never": the main backend) (canary-by-header)`);
  }
  if (c.cookie !== undefined) parts.push(`${parts.length > 0 ? 'else ' : ''}cookie ${c.cookie} is "always" ("never": the main backend) (canary-by-cookie)`);
  const share = c.weight <= 0 ? 'no request' : c.weight >= c.weightTotal ? 'every request' : `exactly ${c.weight} of every ${c.weightTotal} requests per worker`;
  parts.push(`${parts.length > 0 ? 'else ' : ''}${share} (canary-weight)`);
  return parts.join(', ');
}
