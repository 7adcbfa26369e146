/**
 * The one table that maps data-plane failures to HTTP statuses (README.md "Proxy behaviour";
 * the error codes are in docs/errors.md). After the response head was sent no status can be
 * sent any more: the exchange closes the client connection instead.
 */
import { STATUS_CODES } from 'node:http';
import type { PolicyAnswer } from '../../shared/route-policy.js';

/** ProxyFailure names every failure the proxy answers itself. */
export type ProxyFailure =
  | 'bad-request'
  | 'method-not-allowed'
  | 'forbidden'
  | 'length-required'
  | 'body-timeout'
  | 'body-too-large'
  | 'uri-too-long'
  | 'head-too-large'
  | 'no-route'
  | 'no-endpoint'
  | 'upstream-error'
  | 'upstream-timeout'
  | 'internal';

/** FAILURE_STATUS maps each failure to its status. */
export const FAILURE_STATUS: Readonly<Record<ProxyFailure, number>> = Object.freeze({
  'bad-request': 400, // framing the parser let through, bad Host, bad path (docs/bad-input.md §A, §B, §D, §H)
  forbidden: 403, // the client address is refused by the route's allowlist-source-range / denylist-source-range (shared/source-range.ts)
  'method-not-allowed': 405, // CONNECT and TRACE: an ingress is not a forward proxy (§B row 48, §G row 129)
  'length-required': 411, // POST, PUT or PATCH without Content-Length or Transfer-Encoding (request-guard.ts)
  'body-timeout': 408, // the client sent no body byte for --client-body-timeout (nginx client_body_timeout; request-body.ts)
  'body-too-large': 413, // a body over --max-request-body-bytes or the route's limit (ingress-nginx proxy-body-size; request-body.ts)
  'uri-too-long': 414, // a request target over --max-request-target-bytes (§B row 53)
  'head-too-large': 431, // a field over --max-request-field-bytes, or more fields than --max-request-fields (§C rows 65–67)
  'no-route': 404, // no host/path rule and no default backend
  'no-endpoint': 503, // the backend has no selectable endpoint
  'upstream-error': 502, // connect refused, reset or bad response before the head
  'upstream-timeout': 504, // connect timeout or no response head in time
  internal: 502, // a handler threw; the worker keeps running
});

/** ErrorResponse is a ready-made answer: status line and a short text body that never echoes input. */
export interface ErrorResponse {
  readonly status: number;
  readonly statusLine: string;
  readonly body: string;
}

/** CONTENT_TYPE_TEXT is the Content-Type of every error body. */
export const CONTENT_TYPE_TEXT = 'text/plain; charset=utf-8';

const RESPONSES = new Map<ProxyFailure, ErrorResponse>();
for (const [failure, status] of Object.entries(FAILURE_STATUS) as [ProxyFailure, number][]) {
  const line = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  RESPONSES.set(failure, Object.freeze({ status, statusLine: line, body: `${line}\n` }));
}

/** errorResponse returns the canned response for a failure. */
export function errorResponse(failure: ProxyFailure): ErrorResponse {
  return RESPONSES.get(failure) as ErrorResponse;
}

const STATUS_LINES: string[] = [];
for (let code = 100; code <= 599; code++) STATUS_LINES[code] = `${code} ${STATUS_CODES[code] ?? 'Unknown'}`;

/** statusLine returns `code reason` for 100–599 (the reason from node:http, or `Unknown`). */
export function statusLine(code: number): string {
  return STATUS_LINES[code] ?? `${code} Unknown`;
}

/** plainAnswer is an answer of Flusso's own: `status`, the `extra` fields, Content-Type text, and the status line as its body. */
export function plainAnswer(status: number, extra: readonly string[] = []): PolicyAnswer {
  return { status, fields: [...extra, 'Content-Type', CONTENT_TYPE_TEXT], body: `${statusLine(status)}\n` };
}
