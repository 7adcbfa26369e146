/**
 * ingress-nginx cookie affinity (issue 15 group 5, docs/annotations.md "Cookie affinity"): the
 * compiled form of `affinity: cookie` and its `session-cookie-*` annotations, and the Set-Cookie
 * line Flusso sends when it (re)issues the cookie, baked as ingress-nginx's Lua (lua-resty-cookie)
 * bakes it: name=value; Expires; Max-Age; Domain; Path; Secure; HttpOnly; SameSite.
 */

/** RouteAffinity is a route's sticky cookie. */
export interface RouteAffinity {
  /** `session-cookie-name` (default INGRESSCOOKIE). */
  readonly name: string;
  /** `session-cookie-path`, else the Ingress path. */
  readonly path: string;
  readonly domain?: string;
  /** `session-cookie-max-age` in seconds. */
  readonly maxAge?: number;
  /** `session-cookie-expires` in seconds from now. */
  readonly expires?: number;
  /** `session-cookie-samesite`, as written (None, Lax, Strict). */
  readonly sameSite?: string;
  /** `session-cookie-secure`; absent: Secure on HTTPS requests only. */
  readonly secure?: boolean;
  /** `affinity-mode`. */
  readonly mode: 'balanced' | 'persistent';
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** cookieTime formats a time as nginx's ngx.cookie_time does: `Thu, 18-Nov-2010 11:27:35 GMT`. */
export function cookieTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()] as string}, ${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()] as string}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} GMT`;
}

/** affinityCookie is the Set-Cookie value for endpoint id `value` on a request over `https` (or not), at time `nowMs`. */
export function affinityCookie(a: RouteAffinity, value: string, https: boolean, nowMs: number): string {
  let out = `${a.name}=${value}`;
  if (a.expires !== undefined) out += `; Expires=${cookieTime(Math.floor(nowMs / 1000) * 1000 + a.expires * 1000)}`;
  if (a.maxAge !== undefined) out += `; Max-Age=${a.maxAge}`;
  if (a.domain !== undefined) out += `; Domain=${a.domain}`;
  out += `; Path=${a.path}`;
  if (a.secure ?? https) out += '; Secure';
  out += '; HttpOnly';
  if (a.sameSite !== undefined) out += `; SameSite=${a.sameSite}`;
  return out;
}
