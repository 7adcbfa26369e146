/**
 * What a backend speaks (issue 12, docs/http2.md): ingress-nginx's
 * `nginx.ingress.kubernetes.io/backend-protocol` annotation on the Ingress, else the Service
 * port's `appProtocol`. Pure: it reads objects and returns values and diagnostics.
 *
 * | annotation / appProtocol | backend protocol |
 * |---|---|
 * | `GRPC`, `appProtocol: kubernetes.io/h2c` | `h2c`: HTTP/2 without TLS |
 * | `GRPCS` | `h2`: HTTP/2 over TLS (the endpoint's certificate is not verified, as ingress-nginx's proxy_ssl_verify off) |
 * | `HTTP`, `AUTO_HTTP`, none | HTTP/1.1 |
 * | `HTTPS`, `FCGI` | HTTP/1.1, with a warning: Flusso does not speak them to a backend |
 */
import type { ServicePort } from '../model.js';
import { describeObject, type Ingress } from '../model.js';
import { quote, report, type CompileState } from './context.js';

/** BackendProtocol is what a backend speaks when not HTTP/1.1. */
export type BackendProtocol = 'h2c' | 'h2';

/** BACKEND_PROTOCOL is the ingress-nginx annotation naming the backend's protocol. */
export const BACKEND_PROTOCOL = 'nginx.ingress.kubernetes.io/backend-protocol';

/** H2C_APP_PROTOCOL is the Service port appProtocol of HTTP/2 without TLS (KEP-3726). */
export const H2C_APP_PROTOCOL = 'kubernetes.io/h2c';

const read = new WeakMap<CompileState, Map<Ingress, BackendProtocol | undefined>>();

/**
 * backendProtocolOf reads the backend-protocol annotation of `ing` once per compile (its
 * diagnostic is reported once, however many backends the Ingress has). ingress-nginx upper-cases
 * the value before it compares it.
 */
export function backendProtocolOf(state: CompileState, ing: Ingress): BackendProtocol | undefined {
  let seen = read.get(state);
  if (seen === undefined) read.set(state, (seen = new Map()));
  if (seen.has(ing)) return seen.get(ing);
  const raw = ing.metadata.annotations?.[BACKEND_PROTOCOL];
  let protocol: BackendProtocol | undefined;
  if (raw !== undefined) {
    const value = raw.trim().toUpperCase();
    if (value === 'GRPC') protocol = 'h2c';
    else if (value === 'GRPCS') protocol = 'h2';
    else if (value === 'HTTPS' || value === 'FCGI')
      report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), `annotation ${BACKEND_PROTOCOL} is ${quote(raw)}, which Flusso does not speak to a backend; the backends of this Ingress are reached over HTTP/1.1`);
    else if (value !== 'HTTP' && value !== 'AUTO_HTTP')
      report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${BACKEND_PROTOCOL} is ${quote(raw)}, expected one of HTTP, HTTPS, AUTO_HTTP, GRPC, GRPCS, FCGI; it has no effect`);
  }
  seen.set(ing, protocol);
  return protocol;
}

/** appProtocolOf is the protocol a Service port's appProtocol names, if Flusso speaks it. */
export function appProtocolOf(port: ServicePort): BackendProtocol | undefined {
  return port.appProtocol === H2C_APP_PROTOCOL ? 'h2c' : undefined;
}
