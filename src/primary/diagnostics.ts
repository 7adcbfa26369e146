/**
 * Bounds on what diagnostics carry (issue 14 item 5). Diagnostics quote user objects, and a user
 * object can hold a 1 MiB annotation value or an Ingress with 50,000 paths that all conflict: such
 * text and such counts would otherwise be copied whole into /api/v1/diagnostics, the GUI, the
 * logs (one line per diagnostic) and every rebuild's comparison of what changed. docs/errors.md
 * states the bounds:
 *
 * - a user value quoted in a message keeps its first MAX_QUOTED_CHARS characters;
 * - a message keeps its first MAX_MESSAGE_CHARS, an object name or file name MAX_NAME_CHARS;
 * - one object lists at most MAX_PER_OBJECT diagnostics of one code, then one that counts the rest.
 *
 * What was cut is said in place: `… (12345 more characters)`.
 *
 * Pure: no I/O, no clock, no logger (the compiler uses it too).
 */
import type { Diagnostic } from '../shared/errors.js';

/** MAX_QUOTED_CHARS bounds one user value quoted in a message. */
export const MAX_QUOTED_CHARS = 200;
/** MAX_MESSAGE_CHARS bounds a whole message. */
export const MAX_MESSAGE_CHARS = 1000;
/** MAX_NAME_CHARS bounds the object and file a diagnostic names. */
export const MAX_NAME_CHARS = 300;
/** MAX_PER_OBJECT bounds the diagnostics of one code listed for one object. */
export const MAX_PER_OBJECT = 20;

/** truncateText keeps the first `max` characters of `text` and says how many were cut. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  // Never end on the first half of a surrogate pair.
  const end = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

/** quoteValue renders a user value for a message: JSON-quoted (escaping anything unprintable), at most MAX_QUOTED_CHARS of it. */
export function quoteValue(value: string): string {
  if (value.length <= MAX_QUOTED_CHARS) return JSON.stringify(value);
  const end = isHighSurrogate(value.charCodeAt(MAX_QUOTED_CHARS - 1)) ? MAX_QUOTED_CHARS - 1 : MAX_QUOTED_CHARS;
  return `${JSON.stringify(value.slice(0, end))}… (${value.length - end} more characters)`;
}

/** boundDiagnostic is `d` with its message, object and file within the bounds (`d` itself when they are). */
export function boundDiagnostic(d: Diagnostic): Diagnostic {
  const long = d.message.length > MAX_MESSAGE_CHARS || d.object.length > MAX_NAME_CHARS || (d.file !== undefined && d.file.length > MAX_NAME_CHARS);
  if (!long) return d;
  const bounded = { ...d, message: truncateText(d.message, MAX_MESSAGE_CHARS), object: truncateText(d.object, MAX_NAME_CHARS) };
  return d.file === undefined ? bounded : { ...bounded, file: truncateText(d.file, MAX_NAME_CHARS) };
}

/**
 * boundDiagnostics bounds every diagnostic of `list` (boundDiagnostic), and lists at most
 * MAX_PER_OBJECT of one code for one object: the rest become one diagnostic, in the place of the
 * first one left out, that says how many there were.
 */
export function boundDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Map<string, number>();
  const summaries = new Map<string, { index: number; d: Diagnostic }>();
  const out: Diagnostic[] = [];
  for (const d of list) {
    const key = `${d.code} ${d.object}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n <= MAX_PER_OBJECT) {
      out.push(boundDiagnostic(d));
      continue;
    }
    if (!summaries.has(key)) {
      summaries.set(key, { index: out.length, d });
      out.push(d); // replaced below, once the count is known
    }
  }
  for (const [key, { index, d }] of summaries) {
    const more = (seen.get(key) ?? 0) - MAX_PER_OBJECT;
    out[index] = boundDiagnostic({ ...d, message: `… and ${more} more ${d.code} diagnostics for ${d.object}, not listed (at most ${MAX_PER_OBJECT} of one code per object)` });
  }
  return out;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
