/**
 * htpasswd lines for ingress-nginx `auth-type: basic` (issue 15 group 6, docs/annotations.md
 * "Basic authentication"): which hash formats Flusso checks, as nginx's auth_basic does (its own
 * `{PLAIN}`, `{SHA}`, `{SSHA}`, `$apr1$`, and the system crypt(3) for the rest: `$1$`, `$5$`, `$6$`,
 * bcrypt). Pure: the primary classifies the lines of a Secret (and reports the ones it cannot
 * check); the workers verify (worker/auth/hashes.ts).
 */

/** HashKind is a format Flusso verifies; the expensive ones are verified off the event loop. */
export type HashKind = 'plain' | 'sha' | 'ssha' | 'apr1' | 'md5crypt' | 'sha256crypt' | 'sha512crypt' | 'bcrypt';

/** hashKind says which supported format `hash` is in, or undefined (DES crypt, yescrypt, argon2…). */
export function hashKind(hash: string): HashKind | undefined {
  if (hash.startsWith('{PLAIN}')) return 'plain';
  if (hash.startsWith('{SHA}')) return /^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(hash) ? 'sha' : undefined;
  if (hash.startsWith('{SSHA}')) return /^\{SSHA\}[A-Za-z0-9+/]+=*$/.test(hash) && Buffer.from(hash.slice(6), 'base64').length > 20 ? 'ssha' : undefined;
  if (/^\$apr1\$[^$]{0,8}\$[./0-9A-Za-z]{22}$/.test(hash)) return 'apr1';
  if (/^\$1\$[^$]{0,8}\$[./0-9A-Za-z]{22}$/.test(hash)) return 'md5crypt';
  if (/^\$5\$(rounds=\d{1,9}\$)?[^$]{0,16}\$[./0-9A-Za-z]{43}$/.test(hash)) return 'sha256crypt';
  if (/^\$6\$(rounds=\d{1,9}\$)?[^$]{0,16}\$[./0-9A-Za-z]{86}$/.test(hash)) return 'sha512crypt';
  if (/^\$2[aby]\$\d{2}\$[./0-9A-Za-z]{53}$/.test(hash)) return 'bcrypt';
  return undefined;
}

/** CHEAP_HASHES are verified on the event loop (one hash at most); the others go to the verifier thread. */
export const CHEAP_HASHES: ReadonlySet<HashKind> = new Set(['plain', 'sha', 'ssha']);

/** HtpasswdLine is one line of an htpasswd file: its user and hash, or the problem. */
export type HtpasswdLine = { readonly user: string; readonly hash: string; readonly kind: HashKind } | { readonly line: number; readonly problem: string };

/**
 * parseHtpasswd reads an htpasswd file as nginx's auth_basic does: `user:hash` lines, `#`
 * comments and empty lines skipped; the first line of a user wins (nginx stops at the first
 * matching user). A line Flusso cannot check is reported, never silently turned into a denial.
 */
export function parseHtpasswd(text: string): HtpasswdLine[] {
  const out: HtpasswdLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    const colon = raw.indexOf(':');
    if (colon <= 0) {
      out.push({ line: i + 1, problem: 'is not "user:hash"' });
      continue;
    }
    // nginx takes the hash up to the next ':' (htpasswd files may have more fields after it).
    const rest = raw.slice(colon + 1);
    const hash = rest.includes(':') ? rest.slice(0, rest.indexOf(':')) : rest;
    const kind = hashKind(hash);
    if (kind === undefined) out.push({ line: i + 1, problem: `for user ${JSON.stringify(raw.slice(0, colon))} has a hash format Flusso does not check (supported: bcrypt $2a$/$2b$/$2y$, $apr1$, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN})` });
    else out.push({ user: raw.slice(0, colon), hash, kind });
  }
  return out;
}
