/**
 * Client address lists (issue 15 item 6, docs/annotations.md): ingress-nginx's
 * `allowlist-source-range` (older name `whitelist-source-range`) and `denylist-source-range`.
 * ingress-nginx renders them as nginx `deny` lines, then `allow` lines and `deny all`, and nginx
 * takes the first line that matches: an address in the deny list is refused even when the allow
 * list names it, and with an allow list every address outside it is refused. A refused request is
 * answered 403. The address is the socket's peer (trusted proxies and X-Forwarded-For are not
 * read). Pure: shared by the workers (which refuse) and the explainer (which says why).
 */
import { firstListed } from './cidr.js';

/** RouteSourceRange is one Ingress's address lists, CIDRs as written (after validation by the compiler). */
export interface RouteSourceRange {
  /** `allowlist-source-range`: absent, no allow list; present, only these (none: nobody, every entry was bad). */
  readonly allow?: readonly string[];
  /** `denylist-source-range`: these are refused, whatever the allow list says. */
  readonly deny: readonly string[];
}

/** SourceVerdict says why an address is refused, or that it is not. */
export type SourceVerdict = { readonly allowed: true; readonly entry: string | null } | { readonly allowed: false; readonly entry: string | null };

/**
 * sourceVerdict checks the client `address` (4 or 16 bytes as uWS gives it; an IPv4-mapped
 * IPv6 address counts as IPv4) against `range`: refused with the deny entry that matches, or
 * refused (entry null) for being outside the allow list; allowed with the allow entry that
 * matched (null when there is no allow list).
 */
export function sourceVerdict(range: RouteSourceRange, address: Uint8Array): SourceVerdict {
  const denied = range.deny.length === 0 ? null : firstListed(range.deny, address);
  if (denied !== null) return { allowed: false, entry: denied };
  if (range.allow === undefined) return { allowed: true, entry: null };
  const allowed = firstListed(range.allow, address);
  return allowed === null ? { allowed: false, entry: null } : { allowed: true, entry: allowed };
}

/** sourceAllowed is sourceVerdict's answer alone: may a client at `address` use the route. */
export function sourceAllowed(range: RouteSourceRange, address: Uint8Array): boolean {
  if (range.deny.length > 0 && firstListed(range.deny, address) !== null) return false;
  return range.allow === undefined || firstListed(range.allow, address) !== null;
}
