/**
 * ingress-nginx `custom-headers` and the `add-headers` / `proxy-set-headers` settings (issue 15
 * item 4, docs/annotations.md "Custom headers"): the compiled header block of a route, and the
 * checks a header name and value pass before they reach a snapshot. Pure; shared by the compiler
 * (which validates and precomputes), the workers (which only write the fields) and the explainer.
 */
import { hashKeyOf, type HashRequest } from './upstream-hash.js';

/** RouteHeaders is what a route adds to its responses and to its upstream requests. */
export interface RouteHeaders {
  /** Response fields as name, value pairs (add-headers first, then custom-headers; a name appears once), written on every response of the route. */
  readonly response?: readonly string[];
  /** The ConfigMap (`namespace/name`) of the route's custom-headers annotation, and its header names (the explainer and the GUI show them). */
  readonly customHeaders?: { readonly configMap: string; readonly names: readonly string[] };
  /** The add-headers setting's ConfigMap, when it adds fields to this route. */
  readonly addHeaders?: string;
  /** proxy-set-headers: upstream request fields, lower-case names, each value as literal text and `$variable` parts (shared/upstream-hash.ts). */
  readonly request?: readonly { readonly name: string; readonly parts: readonly string[] }[];
  /** The proxy-set-headers setting's ConfigMap. */
  readonly proxySetHeaders?: string;
}

/** ingress-nginx's header name check (customheaders.ValidHeader): letters, digits, `-` and `_`. */
export const HEADER_NAME = /^[A-Za-z0-9_-]+$/;
/** ingress-nginx's header value check (customheaders.ValidValue): printable ASCII without `\`-escapes of control bytes; no CR, LF or NUL can pass. */
export const HEADER_VALUE = /^[A-Za-z0-9_ :;.,\\/"'?!(){}[\]@<>=\-+*#$&`|~^%]+$/;

/**
 * FRAMING_FIELDS are the fields a header list may never set: the hop-by-hop fields (RFC 9110
 * §7.6.1) and those that frame the message. Flusso writes them itself; a list that set them
 * could cut or smuggle a message.
 */
export const FRAMING_FIELDS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'te', 'trailer', 'upgrade', 'host']);

/** OWN_FIELDS are the fields Flusso (and uWS) write on every response, once: a list may not add a second. */
export const OWN_FIELDS: ReadonlySet<string> = new Set(['server', 'date']);

/** headerProblem says what is wrong with one header of a list, or undefined when it may be used. */
export function headerProblem(name: string, value: string): string | undefined {
  if (!HEADER_NAME.test(name)) return `header name ${JSON.stringify(name)} is not letters, digits, "-" and "_"`;
  if (FRAMING_FIELDS.has(name.toLowerCase())) return `header ${name} is a hop-by-hop or framing field Flusso writes itself`;
  if (OWN_FIELDS.has(name.toLowerCase())) return `header ${name} is written by Flusso itself on every response (a second one would contradict it)`;
  if (!HEADER_VALUE.test(value)) return `the value of header ${name} is empty or holds a character outside printable ASCII (no CR, LF, NUL or other control character)`;
  return undefined;
}

/** requestFieldsOf evaluates a route's proxy-set-headers fields for one request, as name, value pairs. */
export function requestFieldsOf(fields: readonly { readonly name: string; readonly parts: readonly string[] }[], req: HashRequest): string[] {
  const out: string[] = [];
  for (const f of fields) out.push(f.name, f.parts.length === 1 && f.parts[0]?.charCodeAt(0) !== 0x24 ? (f.parts[0] as string) : hashKeyOf(f.parts, req));
  return out;
}
