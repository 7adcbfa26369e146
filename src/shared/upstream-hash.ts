/**
 * ingress-nginx `upstream-hash-by` (issue 15 group 5, docs/annotations.md "Upstream hashing"):
 * the hash key a request gets from the compiled key expression, and the consistent choice of an
 * endpoint for it. Pure and shared by the workers (which pick the endpoint) and the explainer.
 *
 * The choice is rendezvous hashing (highest random weight): every endpoint scores
 * mix(key hash, endpoint hash) and the highest score wins. It needs no ring (memory: one 32-bit
 * hash per endpoint), every worker and every restart picks the same endpoint for the same key
 * and endpoint set, and when one of N endpoints leaves only the keys it owned move (about 1/N
 * of them; test/unit/worker/balance/upstream-hash.test.ts measures it). Cost: one multiply-mix
 * per endpoint per request.
 */

/** HASH_VARIABLES are the nginx variables a key may use besides the `http_`, `cookie_` and `arg_` families. */
export const HASH_VARIABLES: ReadonlySet<string> = new Set(['request_uri', 'uri', 'host', 'remote_addr', 'scheme', 'args', 'query_string']);

/** HashRequest is what a key expression reads of a request. */
export interface HashRequest {
  /** The request target as sent (nginx $request_uri). */
  readonly target: string;
  /** The normalised path (nginx $uri). */
  readonly path: string;
  /** The normalised host (nginx $host). */
  readonly host: string;
  readonly query: string;
  readonly scheme: string;
  /** The client's address as text (nginx $remote_addr). */
  readonly remoteAddress: string;
  /** The value of request field `name` (lower-case), or '' when absent. */
  field(name: string): string;
}

/**
 * parseHashKey splits an `upstream-hash-by` value into literal text and variable names (each
 * `$name` or `${name}`, kept as `$name`), as ingress-nginx's Lua `util.parse_complex_value`
 * does; a string naming a variable Flusso cannot read, or `$` with no name, gives the offending
 * part as `error`.
 */
export function parseHashKey(text: string): { readonly parts: readonly string[] } | { readonly error: string } {
  const parts: string[] = [];
  const re = /\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)|([^$]+)|(\$)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[3] !== undefined) parts.push(m[3]);
    else if (m[4] !== undefined) return { error: '$' };
    else {
      const name = (m[1] ?? m[2] ?? '').toLowerCase();
      if (!knownVariable(name)) return { error: `$${name}` };
      parts.push(`$${name}`);
    }
  }
  return { parts };
}

function knownVariable(name: string): boolean {
  if (HASH_VARIABLES.has(name)) return true;
  return /^(http|cookie|arg)_[a-z0-9_]+$/.test(name);
}

/** hashKeyOf is the key text of `req` for compiled `parts` (an absent field, cookie or argument is ''). */
export function hashKeyOf(parts: readonly string[], req: HashRequest): string {
  let key = '';
  for (const part of parts) key += part.charCodeAt(0) === 0x24 /* $ */ ? variable(part.slice(1), req) : part;
  return key;
}

function variable(name: string, req: HashRequest): string {
  switch (name) {
    case 'request_uri':
      return req.target;
    case 'uri':
      return req.path;
    case 'host':
      return req.host;
    case 'remote_addr':
      return req.remoteAddress;
    case 'scheme':
      return req.scheme;
    case 'args':
    case 'query_string':
      return req.query;
  }
  if (name.startsWith('http_')) return req.field(name.slice(5).replaceAll('_', '-'));
  if (name.startsWith('cookie_')) return cookieValue(req.field('cookie'), name.slice(7));
  return argValue(req.query, name.slice(4));
}

/** cookieValue is cookie `name`'s value in a Cookie field (nginx `$cookie_name`: names compare without case), or ''. */
export function cookieValue(field: string, name: string): string {
  return findCookie(field, name) ?? '';
}

/** findCookie is cookie `name`'s (lower-case) value in a Cookie field, the first of that name, or undefined when absent. */
export function findCookie(field: string, name: string): string | undefined {
  if (field === '') return undefined;
  for (const pair of field.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim().toLowerCase() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** argValue is query argument `name`'s raw value (nginx `$arg_name`: names compare without case), or ''. */
function argValue(query: string, name: string): string {
  if (query === '') return '';
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key.toLowerCase() === name) return eq < 0 ? '' : pair.slice(eq + 1);
  }
  return '';
}

/** hash32 is a 32-bit FNV-1a hash of `text`'s UTF-16 code units, finished with murmur3's fmix32. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

function fmix32(x: number): number {
  let h = x;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * rendezvousIndex is the index of the endpoint that owns `keyHash` among endpoints with hashes
 * `nodeHashes` (highest fmix32(key ^ node) wins; ties to the lower index); -1 for none.
 * The winner depends only on the key and the set of endpoint hashes, not on their order.
 */
export function rendezvousIndex(keyHash: number, nodeHashes: ArrayLike<number>): number {
  let best = -1;
  let bestScore = -1;
  let bestNode = 0;
  for (let i = 0; i < nodeHashes.length; i++) {
    const node = nodeHashes[i] as number;
    const score = fmix32((keyHash ^ node) >>> 0);
    // Equal scores (rare) go to the smaller endpoint hash, so the order of the list never matters.
    if (score > bestScore || (score === bestScore && node < bestNode)) {
      best = i;
      bestScore = score;
      bestNode = node;
    }
  }
  return best;
}
