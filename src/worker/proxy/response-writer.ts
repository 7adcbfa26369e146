/**
 * ResponseWriter: the one place a proxied response is written to uWS (issue 13): the head, the
 * body with backpressure (tryEnd for a known length, write for chunked, onWritable to go on),
 * the bodiless endings, the failure answer, and the cut.
 *
 * uWS rules it lives by (docs/runtime.md): never touch `res` after it completed or aborted;
 * every write outside the handler's synchronous part goes through `res.cork`; `res.resume()` only
 * after our own `res.pause()`; a paused socket gets no onWritable.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { BodyMode, type ResponseHead } from '../upstream/parser.js';
import { CONTENT_TYPE_TEXT, errorResponse, statusLine, type ProxyFailure } from './errors.js';
import { writeResponseFields, type UpstreamHeadView } from './headers.js';
import { overrides, routeFieldsOf, writeRouteFields } from './custom-headers.js';
import { fieldNamesOf, responseFieldsOf } from './policy.js';
import { addedResponseFields } from './external-auth.js';

/** OwnFieldsContext is what writeOwnFields needs of the listener. */
export interface OwnFieldsContext {
  readonly serverHeader: string;
  /** The Strict-Transport-Security value added to every response (HTTPS with --hsts), else null. */
  readonly hsts: string | null;
}

/** WriterContext is the listener state a writer reads when it ends a response. */
export interface WriterContext extends OwnFieldsContext {
  /** Set by drain(): every response from now on asks uWS to close the connection. */
  readonly draining: boolean;
}

/**
 * CLIENT_CLOSE marks a response whose request asked to close the connection (`Connection:
 * close`). uWS closes the connection after that response but writes no `Connection: close` of
 * its own when the client asked first; RFC 9112 §9.6 says the server should, and clients that
 * do not see it (wrk, some pools) send the next request into a closing connection.
 */
const CLIENT_CLOSE = Symbol('flusso.clientClose');

/** markClientClose records on `res` that its request carried `Connection: close`. */
export function markClientClose(res: HttpResponse): void {
  (res as HttpResponse & { [CLIENT_CLOSE]?: true })[CLIENT_CLOSE] = true;
}

/** closeField is the `Connection: close` line to add to `res`'s head ('' when none is due). */
export function closeField(res: HttpResponse): string {
  return (res as HttpResponse & { [CLIENT_CLOSE]?: true })[CLIENT_CLOSE] === true ? '\r\nConnection: close' : '';
}

/**
 * writeOwnFields writes the fields Flusso adds to every response it sends: Server, on an HTTPS
 * listener with --hsts the Strict-Transport-Security policy, and `Connection: close` when the
 * client asked for it. `res` must be corked.
 */
export function writeOwnFields(res: HttpResponse, ctx: OwnFieldsContext): HttpResponse {
  res.writeHeader('Server', ctx.serverHeader + closeField(res));
  if (ctx.hsts !== null) res.writeHeader('Strict-Transport-Security', ctx.hsts);
  return res;
}

/**
 * writeFailure is the one failure answer: the failure's status line, a short text body that never
 * echoes input, Content-Type, X-Cache-Status on a cached route, Allow for a 405, Flusso's own
 * fields. `res` must be corked. Returns the bytes of body sent.
 */
export function writeFailure(res: HttpResponse, failure: ProxyFailure, ctx: OwnFieldsContext, o: { readonly cacheStatus?: string | null; readonly allow?: string; readonly close: boolean; readonly headRequest?: boolean }): number {
  const r = errorResponse(failure);
  res.writeStatus(r.statusLine);
  if (o.allow !== undefined) res.writeHeader('Allow', o.allow);
  // A route's custom-headers / add-headers fields go on every status, this one too (custom-headers.ts).
  const rf = routeFieldsOf(res);
  if (!overrides(rf, 'content-type')) res.writeHeader('Content-Type', CONTENT_TYPE_TEXT);
  writeRouteFields(res, rf);
  if (o.cacheStatus !== undefined && o.cacheStatus !== null) res.writeHeader('X-Cache-Status', o.cacheStatus);
  return endOwnAnswer(writeOwnFields(res, ctx), r.body, o.close, o.headRequest === true);
}

/**
 * endOwnAnswer ends an answer Flusso writes itself. A HEAD request gets the body's length and no
 * body (RFC 9110 §9.3.2): body bytes after a HEAD answer would be read as the next response on a
 * keep-alive connection. Returns the bytes of body sent.
 */
export function endOwnAnswer(res: HttpResponse, body: string | Uint8Array, close: boolean, headRequest: boolean): number {
  if (headRequest) {
    res.endWithoutBody(body.length, close);
    return 0;
  }
  res.end(body, close);
  return body.length;
}

/** SLAB_BYTES is the size of the buffers that hold body bytes a blocked client has not taken yet (one upstream read). */
const SLAB_BYTES = 64 * 1024;
/** Free slabs kept for reuse (4 MiB at most per worker). */
const MAX_FREE_SLABS = 64;
const freeSlabs: Buffer[] = [];

/**
 * takeSlab returns a buffer for pending body bytes. They are recycled rather than allocated per
 * blocked write: a fresh buffer per write makes glibc grow and trim its heap, and each page
 * fault that costs is expensive (issue 13: 2.7 faults per 16 KiB request before).
 */
function takeSlab(minBytes: number): Buffer {
  if (minBytes <= SLAB_BYTES) {
    const slab = freeSlabs.pop();
    if (slab !== undefined) return slab;
    return Buffer.allocUnsafeSlow(SLAB_BYTES);
  }
  return Buffer.allocUnsafeSlow(minBytes);
}

function giveSlab(slab: Buffer): void {
  if (slab.length === SLAB_BYTES && freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(slab);
}

/** WriterEvents are what the writer tells its owner. */
export interface WriterEvents {
  /** The response completed (every byte handed to uWS) or was cut. */
  onResponseDone(): void;
  /** A blocked body write went out: the owner may read the upstream again. */
  onResponseWritable(): void;
}

/** ResponseWriter writes one response to `res`. */
export class ResponseWriter {
  readonly res: HttpResponse;
  readonly #ctx: WriterContext;
  readonly #events: WriterEvents;
  /** The client went away: never touch res again. */
  aborted = false;
  /** The response completed or was cut: never touch res again. */
  done = false;
  headSent = false;
  /** The status sent (0: none yet). */
  status = 0;
  bytesOut = 0;
  /** Content-Length of the body being written, -1 for chunked. */
  #total = -1;
  /** The unsent rest of tryEnd pieces (`#pendingBytes` of the slab `#pending`), and the write offset it starts at. */
  #pending: Buffer | null = null;
  #pendingBytes = 0;
  #pendingOffset = 0;
  /** A body write waits for onWritable. */
  blocked = false;
  #writableAttached = false;

  /** The request is a HEAD: Flusso's own failure answers carry no body. */
  headRequest = false;

  constructor(res: HttpResponse, ctx: WriterContext, events: WriterEvents) {
    this.res = res;
    this.#ctx = ctx;
    this.#events = events;
  }

  /** open says the response may still be written to. */
  get open(): boolean {
    return !this.aborted && !this.done;
  }

  /**
   * head writes the status and fields: the upstream's filtered ones (`upstream`), then
   * X-Cache-Status and Flusso's own. `total` is the body length to come, -1 for chunked.
   */
  head(status: number, upstream: UpstreamHeadView | null, cacheStatus: string | null, total: number): void {
    const res = this.res;
    res.writeStatus(statusLine(status));
    // A route's annotation policy may set fields in place of the upstream's (policy.ts; issue 15).
    const listed = responseFieldsOf(res);
    const policyFields = listed === undefined || listed.length === 0 ? null : fieldNamesOf(listed);
    if (upstream !== null) writeResponseFields(res, upstream, cacheStatus !== null, this.#ctx.hsts !== null, policyFields);
    if (policyFields !== null) res.writeHeader(policyFields.packed[0], policyFields.packed[1]);
    // auth-url's Set-Cookie, next to the upstream's own (external-auth.ts).
    const added = addedResponseFields(res, status);
    if (added !== null) res.writeHeader(added[0] as string, added[1] as string);
    if (cacheStatus !== null) res.writeHeader('X-Cache-Status', cacheStatus);
    writeOwnFields(res, this.#ctx);
    this.status = status;
    this.#total = total;
    this.headSent = true;
  }

  /**
   * forward writes an upstream response's head and says whether its body is dropped: a HEAD
   * request's, a 204's and a 304's are (the reported length stays), every other is forwarded
   * (a response with no body ends here).
   */
  forward(head: ResponseHead, cacheStatus: string | null): boolean {
    if (this.headRequest || head.status === 204 || head.status === 304) {
      this.head(head.status, head, cacheStatus, 0);
      this.bodiless(head.contentLength);
      return true;
    }
    const total = head.bodyMode === BodyMode.Length ? head.contentLength : head.bodyMode === BodyMode.None ? 0 : -1;
    this.head(head.status, head, cacheStatus, total);
    if (total === 0) this.end();
    return false;
  }

  /**
   * body writes body bytes `buf[start, end)` (valid only during the call: what uWS does not
   * take now is copied). Returns false when the client is blocked: stop reading until
   * onResponseWritable.
   */
  body(buf: Buffer, start: number, end: number): boolean {
    if (!this.open) return true;
    const res = this.res;
    const n = end - start;
    this.bytesOut += n;
    if (this.#total < 0) {
      // Chunked: uWS buffers what it cannot send, and reports the backpressure.
      if (!res.write(buf.subarray(start, end))) this.#block();
      return !this.blocked;
    }
    if (this.#pending !== null) {
      // More arrived while blocked (the rest of the same read): queue it behind the unsent rest.
      this.#keep(buf, start, end);
      return false;
    }
    const piece = buf.subarray(start, end);
    if (this.#ctx.draining && n === this.#total && this.bytesOut === n) {
      res.end(piece, true);
      this.#complete();
      return true;
    }
    const offset = res.getWriteOffset();
    const [ok, done] = res.tryEnd(piece, this.#total);
    if (done) {
      this.#complete();
      return true;
    }
    if (!ok) {
      const sent = res.getWriteOffset() - offset;
      this.#pendingOffset = offset + sent;
      this.#keep(buf, start + sent, end);
      this.#block();
      return false;
    }
    return true;
  }

  /** end finishes the body: the last chunk of a chunked body; an empty body. A known length ends with its last byte. */
  end(): void {
    if (!this.open) return;
    if (this.#total < 0) {
      this.res.end(); // the terminating chunk (closeConnection here would corrupt the chunked body)
      this.#complete();
    } else if (this.#total === 0) {
      this.res.end('', this.#ctx.draining); // uWS writes Content-Length: 0
      this.#complete();
    } else if (this.#pending === null && !this.blocked) {
      // The upstream said it was done before its declared length: cannot happen with the parser.
      this.cut();
    }
  }

  /** bodiless ends a response that has no body (HEAD, 204, 304), with the length a HEAD/304 reports. */
  bodiless(reportedLength: number): void {
    // endWithoutBody(n) writes `Content-Length: n` and no body; a 204 has no Content-Length, and
    // this binding takes a missing length only without any argument.
    if (reportedLength >= 0 && this.status !== 204) this.res.endWithoutBody(reportedLength, this.#ctx.draining);
    else this.res.endWithoutBody();
    this.#complete();
  }

  /** fail answers with a failure (nothing may have been sent yet); `res` must be corked. */
  fail(failure: ProxyFailure, cacheStatus: string | null, close = false): void {
    const r = errorResponse(failure);
    this.status = r.status;
    this.bytesOut += writeFailure(this.res, failure, this.#ctx, { cacheStatus, close: close || this.#ctx.draining, headRequest: this.headRequest });
    this.headSent = true;
    this.#complete();
  }

  /** sent records a response written by someone else (a cache entry), then completes. */
  sent(status: number, bytes: number): void {
    this.status = status;
    this.bytesOut += bytes;
    this.headSent = true;
    this.#complete();
  }

  /** cut closes the client connection mid-response: the client sees a truncated body. */
  cut(): void {
    if (!this.open) return;
    this.done = true;
    this.#dropPending();
    this.res.close(); // runs onAborted synchronously; the owner ignores it once done
    this.#events.onResponseDone();
  }

  /** #keep copies `buf[start, end)` behind the pending bytes (the read buffer is reused by the next read). */
  #keep(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    let slab = this.#pending;
    if (slab === null) {
      slab = takeSlab(n);
      this.#pendingBytes = 0;
    } else if (this.#pendingBytes + n > slab.length) {
      const grown = takeSlab(this.#pendingBytes + n);
      slab.copy(grown, 0, 0, this.#pendingBytes);
      giveSlab(slab);
      slab = grown;
    }
    buf.copy(slab, this.#pendingBytes, start, end);
    this.#pendingBytes += n;
    this.#pending = slab;
  }

  #dropPending(): void {
    if (this.#pending !== null) giveSlab(this.#pending);
    this.#pending = null;
    this.#pendingBytes = 0;
  }

  #complete(): void {
    this.done = true;
    this.#dropPending();
    this.blocked = false;
    this.#events.onResponseDone();
  }

  #block(): void {
    this.blocked = true;
    if (!this.#writableAttached) {
      this.#writableAttached = true;
      this.res.onWritable(this.#onWritable);
    }
  }

  readonly #onWritable = (offset: number): boolean => {
    if (!this.open || !this.blocked) return true;
    let ok = true;
    this.res.cork(() => {
      ok = this.#writeRest(offset);
    });
    if (!this.blocked && this.open) this.#events.onResponseWritable();
    return ok;
  };

  #writeRest(offset: number): boolean {
    const pending = this.#pending;
    if (this.#total < 0 || pending === null) {
      this.blocked = false;
      return true;
    }
    const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.#pendingOffset, this.#pendingBytes), this.#total);
    if (done) {
      this.#complete();
      return true;
    }
    if (ok) {
      this.#dropPending();
      this.blocked = false;
    }
    return ok;
  }
}
