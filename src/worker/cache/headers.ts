/**
 * Header access for the cache core: one view over the shapes the worker holds (name/value
 * pairs as stored, or a record as parsed), so that every cache decision reads a field the same
 * way (docs/bad-input.md row 68: duplicates are combined with ", " exactly as the upstream would see them).
 */

/** HeaderPairs is a header list as `[name, value]` pairs, duplicates kept in order. */
export type HeaderPairs = readonly (readonly [string, string])[];

/** HeaderRecord is a header map keyed by lower-case name (Node's IncomingHttpHeaders shape). */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

/** HeaderSource is any header shape the cache functions accept. */
export type HeaderSource = HeaderPairs | HeaderRecord;

/**
 * headerValue returns the field's combined value (duplicates joined with ", ") or undefined
 * when absent. `name` must be lower case; pair names are compared case-insensitively.
 */
export function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (Array.isArray(headers)) {
    let out: string | undefined;
    for (const [n, v] of headers as HeaderPairs) {
      if (n.length === name.length && n.toLowerCase() === name) out = out === undefined ? v : `${out}, ${v}`;
    }
    return out;
  }
  const v = (headers as HeaderRecord)[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.length === 0 ? undefined : v.join(', ');
}

/** splitList splits a comma-separated field value, honouring quoted strings, and drops empty members. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted && c === 0x5c) i++; // backslash escapes the next character
    else if (c === 0x22) quoted = !quoted;
    else if (c === 0x2c && !quoted) {
      const part = value.slice(start, i).trim();
      if (part !== '') out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last !== '') out.push(last);
  return out;
}

/** parseHttpDate parses an HTTP-date (RFC 9110 §5.6.7) to epoch milliseconds, or null when invalid. */
export function parseHttpDate(value: string | undefined): number | null {
  if (value === undefined) return null;
  const t = value.trim();
  // Date.parse accepts far more than HTTP-date; require at least a day, a month name and a time.
  if (!/\d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2}|[A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}/.test(t)) return null;
  const ms = Date.parse(t.endsWith('GMT') ? t : `${t} GMT`);
  return Number.isFinite(ms) ? ms : null;
}
