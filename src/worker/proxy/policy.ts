/**
 * The worker's side of the ingress-nginx annotations (issue 15, docs/annotations.md): it only
 * executes the RoutePolicy the primary compiled and validated (shared/route-policy.ts decides),
 * for a matched route that has one; a route without a policy never reaches this module. Here:
 * carrying the response fields to the response writer, and editing the upstream head.
 */
import type { HttpResponse } from 'uWebSockets.js';
import type { FieldNames } from './headers.js';

export { applyPolicy, corsFields, rewriteTarget, statusLineOf, type PolicyAnswer, type PolicyForward, type PolicyRequest } from '../../shared/route-policy.js';

/** RESPONSE_FIELDS marks a response whose route adds fields to the upstream's head (response-writer.ts). */
const RESPONSE_FIELDS = Symbol('flusso.policyResponseFields');

/** setResponseFields records on `res` the fields the route's policy sets on the upstream response. */
export function setResponseFields(res: HttpResponse, fields: readonly string[]): void {
  (res as HttpResponse & { [RESPONSE_FIELDS]?: readonly string[] })[RESPONSE_FIELDS] = fields;
}

/** responseFieldsOf returns the fields setResponseFields recorded on `res`, or undefined (almost always). */
export function responseFieldsOf(res: HttpResponse): readonly string[] | undefined {
  return (res as HttpResponse & { [RESPONSE_FIELDS]?: readonly string[] })[RESPONSE_FIELDS];
}

/** withRequestFields returns the upstream head `headers` (name, value pairs) with `fields` set in place of any of the same name. */
export function withRequestFields(headers: readonly string[], fields: readonly string[]): string[] {
  const names = new Set<string>();
  for (let i = 0; i < fields.length; i += 2) names.add(fields[i] as string);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!names.has(headers[i] as string)) out.push(headers[i] as string, headers[i + 1] as string);
  // Host first, where a client puts it.
  const host = fields.indexOf('host');
  if (host >= 0 && host % 2 === 0) out.unshift('host', fields[host + 1] as string);
  for (let i = 0; i < fields.length; i += 2) if (fields[i] !== 'host') out.push(fields[i] as string, fields[i + 1] as string);
  return out;
}

/** PolicyFields are a route's response fields ready for the writer: the names to drop from the upstream's, and all of them as one writeHeader. */
export interface PolicyFields extends FieldNames {
  /**
   * The first name, and its value followed by every other `\r\n name: value` line: uWS writes
   * `name: value\r\n` verbatim, so one call writes them all (the compiler let no CR or LF into a
   * value, and uWS refuses them in the Origin a value may echo).
   */
  readonly packed: readonly [string, string];
}

const prepared = new WeakMap<readonly string[], PolicyFields>();

/** fieldNamesOf prepares name, value pairs `fields` for the response writer (once per list). */
export function fieldNamesOf(fields: readonly string[]): PolicyFields {
  let p = prepared.get(fields);
  if (p === undefined) {
    const set = new Set<string>();
    let rest = fields[1] as string;
    for (let i = 0; i < fields.length; i += 2) {
      const name = (fields[i] as string).toLowerCase();
      // A cookie the route adds (affinity) goes beside the upstream's Set-Cookie fields, never in place of them.
      if (name !== 'set-cookie') set.add(name);
      if (i > 0) rest += `\r\n${fields[i] as string}: ${fields[i + 1] as string}`;
    }
    prepared.set(fields, (p = { names: set, lengths: new Set([...set].map((n) => n.length)), packed: [fields[0] as string, rest] }));
  }
  return p;
}

/** originOf returns the first Origin field of a request head (lower-case names), or ''. */
export function originOf(names: readonly string[], values: readonly string[]): string {
  const i = names.indexOf('origin');
  return i < 0 ? '' : (values[i] as string);
}
