/**
 * Admin authentication: one bearer token (given with --admin-token, or generated at start and
 * logged once). Mutations always need it; reads need it unless --admin-public-read. Mutations
 * also refuse a foreign Origin, so a page on another site cannot drive a logged-in browser.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** generateToken makes a 192-bit URL-safe token. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/** bearerMatches compares `Authorization: Bearer <token>` against the token in constant time. */
export function bearerMatches(header: string, token: string): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m !== null && tokenMatches(m[1] as string, token);
}

/** tokenMatches compares a presented token with the expected one in constant time. */
export function tokenMatches(presented: string, token: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * originAllowed accepts a mutation whose Origin is absent (curl, scripts) or names this admin
 * server itself (the GUI); every other origin is refused.
 */
export function originAllowed(origin: string, host: string): boolean {
  if (origin === '') return true;
  return origin === `http://${host}` || origin === `https://${host}`;
}

/** WS_PROTOCOL is the WebSocket subprotocol of the live feed; the token rides as a second one. */
export const WS_PROTOCOL = 'flusso.live.v1';

/** tokenFromProtocols finds `bearer.<token>` among the offered WebSocket subprotocols. */
export function tokenFromProtocols(header: string): string {
  for (const p of header.split(',')) {
    const t = p.trim();
    if (t.startsWith('bearer.')) return t.slice('bearer.'.length);
  }
  return '';
}
