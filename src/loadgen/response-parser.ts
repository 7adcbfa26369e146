/**
 * A minimal incremental HTTP/1.1 response parser for the load generator: it finds where each
 * response ends (Content-Length, chunked, or the connection's close) and reads the status and
 * whether the connection stays open, and nothing else. Bytes are scanned where they arrive
 * (the socket's reused read buffer); only an unfinished head or chunk-size line is copied.
 */

const CR = 13;
const LF = 10;
/** The largest response head accepted (request heads: --max-request-head-bytes is 32 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE_BYTES = 4096;

const enum State {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
}

/** ResponseParseError is a response the parser cannot frame; the connection must be closed. */
export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
}

/** ResponseSink receives each complete response. */
export interface ResponseSink {
  /** onResponse is called once per final response, when its last byte is read. */
  onResponse(status: number, keepAlive: boolean): void;
}

/** ResponseParser frames the responses of one connection. */
export class ResponseParser {
  readonly #sink: ResponseSink;
  /** True when the requests are HEAD: responses carry no body whatever they announce. */
  readonly #headRequests: boolean;
  #state = State.Head;
  #pending: Buffer | null = null;
  #remaining = 0;
  #status = 0;
  #keepAlive = true;

  constructor(sink: ResponseSink, options: { readonly headRequests?: boolean } = {}) {
    this.#sink = sink;
    this.#headRequests = options.headRequests ?? false;
  }

  /** idle is true between responses (no byte of a response read yet). */
  get idle(): boolean {
    return this.#state === State.Head && this.#pending === null;
  }

  /**
   * execute reads `buf[start, end)`; it calls the sink for every response completed and throws
   * ResponseParseError on bytes that are not a response it can frame.
   */
  execute(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      switch (this.#state) {
        case State.Head:
          i = this.#readHead(buf, i, end);
          break;
        case State.Body: {
          const n = Math.min(this.#remaining, end - i);
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) this.#complete();
          break;
        }
        case State.ChunkSize:
        case State.Trailers:
          i = this.#readLine(buf, i, end);
          break;
        case State.ChunkData: {
          const n = Math.min(this.#remaining, end - i);
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) {
            this.#state = State.ChunkDataEnd;
            this.#remaining = 2;
          }
          break;
        }
        case State.ChunkDataEnd: {
          const want = this.#remaining === 2 ? CR : LF;
          if (buf[i] !== want) throw new ResponseParseError('chunk data is not followed by CRLF');
          i++;
          if (--this.#remaining === 0) this.#state = State.ChunkSize;
          break;
        }
        case State.UntilClose:
          return;
      }
    }
  }

  /**
   * finish is called when the peer closed the connection; it completes a response whose body
   * runs to the close and returns whether the close cut a response short.
   */
  finish(): boolean {
    if (this.#state === State.UntilClose) {
      this.#keepAlive = false;
      this.#complete();
      return false;
    }
    return !this.idle;
  }

  #readHead(buf: Buffer, start: number, end: number): number {
    if (this.#pending === null) {
      const next = this.#parseHead(buf, start, end);
      if (next !== -1) return next;
      this.#stash(buf, start, end, MAX_HEAD_BYTES, 'response head');
      return end;
    }
    // A head that came in pieces: parse it again from its first byte (rare: heads are small).
    const before = this.#pending.length;
    const joined = Buffer.concat([this.#pending, buf.subarray(start, end)]);
    const next = this.#parseHead(joined, 0, joined.length);
    if (next === -1) {
      if (joined.length > MAX_HEAD_BYTES) throw new ResponseParseError(`response head over ${MAX_HEAD_BYTES} bytes`);
      this.#pending = joined;
      return end;
    }
    this.#pending = null;
    return start + (next - before);
  }

  /**
   * #parseHead reads a response head from `b[start, end)` byte by byte (no strings on the
   * common path) and returns the index after its blank line, or -1 when it is not all there.
   */
  #parseHead(b: Uint8Array, start: number, end: number): number {
    if (end - start < 13) return -1;
    for (let k = 0; k < 7; k++) if (b[start + k] !== HTTP_1[k]) throw new ResponseParseError(`not an HTTP/1.x status line: ${quote(b, start, end)}`);
    const minor = b[start + 7];
    if ((minor !== 48 && minor !== 49) || b[start + 8] !== 32) throw new ResponseParseError(`not an HTTP/1.0 or HTTP/1.1 status line: ${quote(b, start, end)}`);
    let status = 0;
    for (let k = 9; k < 12; k++) {
      const d = (b[start + k] ?? 0) - 48;
      if (d < 0 || d > 9) throw new ResponseParseError(`bad status code in ${quote(b, start, end)}`);
      status = status * 10 + d;
    }
    if (status < 100 || (b[start + 12] !== 32 && b[start + 12] !== CR)) throw new ResponseParseError(`bad status code in ${quote(b, start, end)}`);
    let i = b.indexOf(LF, start + 12);
    if (i === -1 || i >= end) return -1;
    i++;
    let keepAlive = minor === 49;
    let length = -1;
    let chunked = false;
    let encoded = false;
    for (;;) {
      if (i >= end) return -1;
      const c = b[i] ?? 0;
      if (c === CR) {
        if (i + 1 >= end) return -1;
        if (b[i + 1] !== LF) throw new ResponseParseError('response head does not end with CRLF CRLF');
        i += 2;
        break;
      }
      let lf = i;
      while (lf < end && b[lf] !== LF) lf++;
      if (lf >= end) return -1;
      if (b[lf - 1] !== CR) throw new ResponseParseError('header line ends with a bare LF');
      const lc = c | 0x20;
      if (lc === 99 /* c */) {
        if (nameIs(b, i, lf, CONTENT_LENGTH)) {
          const n = digits(b, i + CONTENT_LENGTH.length + 1, lf - 1);
          if (length !== -1 && length !== n) throw new ResponseParseError('two different Content-Length values');
          length = n;
        } else if (nameIs(b, i, lf, CONNECTION)) {
          const from = skipSpace(b, i + CONNECTION.length + 1, lf - 1);
          if (!sameBytes(b, from, lf - 1, KEEP_ALIVE)) {
            const tokens = Buffer.from(b.buffer, b.byteOffset + from, lf - 1 - from).toString('latin1').toLowerCase();
            if (tokens.includes('close')) keepAlive = false;
            else if (tokens.includes('keep-alive')) keepAlive = true;
          } else keepAlive = true;
        }
      } else if (lc === 116 /* t */ && nameIs(b, i, lf, TRANSFER_ENCODING)) {
        encoded = true;
        const from = i + TRANSFER_ENCODING.length + 1;
        const codings = Buffer.from(b.buffer, b.byteOffset + from, lf - 1 - from).toString('latin1').toLowerCase().split(',');
        chunked = codings[codings.length - 1]?.trim() === 'chunked';
      }
      i = lf + 1;
    }
    if (status < 200) {
      if (status === 101) throw new ResponseParseError('101 Switching Protocols: the load generator speaks HTTP/1.1 only');
      return i; // an interim response (100 Continue, 103 Early Hints): its final one follows
    }
    this.#status = status;
    this.#keepAlive = keepAlive;
    if (this.#headRequests || status === 204 || status === 304) this.#complete();
    else if (encoded) {
      if (chunked) this.#state = State.ChunkSize;
      else this.#untilClose();
    } else if (length === -1) this.#untilClose();
    else if (length === 0) this.#complete();
    else {
      this.#remaining = length;
      this.#state = State.Body;
    }
    return i;
  }

  #untilClose(): void {
    this.#keepAlive = false;
    this.#state = State.UntilClose;
  }

  /** #readLine reads a chunk-size or trailer line, which may arrive in pieces. */
  #readLine(buf: Buffer, start: number, end: number): number {
    let at = buf.indexOf(LF, start);
    if (at === -1 || at >= end) {
      this.#stash(buf, start, end, MAX_CHUNK_LINE_BYTES, 'chunk-size or trailer line');
      return end;
    }
    let line: string;
    if (this.#pending === null) line = buf.toString('latin1', start, at);
    else {
      line = Buffer.concat([this.#pending, buf.subarray(start, at)]).toString('latin1');
      this.#pending = null;
    }
    at++;
    if (line.charCodeAt(line.length - 1) !== CR) throw new ResponseParseError('chunk-size or trailer line without CRLF');
    line = line.slice(0, -1);
    if (this.#state === State.Trailers) {
      if (line === '') this.#complete();
      return at;
    }
    const semi = line.indexOf(';');
    const hex = (semi === -1 ? line : line.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new ResponseParseError(`bad chunk size ${JSON.stringify(hex)}`);
    const size = parseInt(hex, 16);
    if (size === 0) this.#state = State.Trailers;
    else {
      this.#remaining = size;
      this.#state = State.ChunkData;
    }
    return at;
  }

  #stash(buf: Buffer, start: number, end: number, max: number, what: string): void {
    const part = buf.subarray(start, end);
    const joined = this.#pending === null ? Buffer.from(part) : Buffer.concat([this.#pending, part]);
    if (joined.length > max) throw new ResponseParseError(`${what} over ${max} bytes`);
    this.#pending = joined;
  }

  #complete(): void {
    this.#state = State.Head;
    this.#sink.onResponse(this.#status, this.#keepAlive);
  }
}

const HTTP_1 = Buffer.from('HTTP/1.');
const CONTENT_LENGTH = Buffer.from('content-length');
const CONNECTION = Buffer.from('connection');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const KEEP_ALIVE = Buffer.from('keep-alive');

/** nameIs tells whether the header line at `i` is `name:` (case-insensitive). */
function nameIs(b: Uint8Array, i: number, lineEnd: number, name: Uint8Array): boolean {
  const n = name.length;
  if (i + n >= lineEnd || b[i + n] !== 58 /* : */) return false;
  for (let k = 0; k < n; k++) if (((b[i + k] ?? 0) | 0x20) !== name[k]) return false;
  return true;
}

function skipSpace(b: Uint8Array, i: number, end: number): number {
  while (i < end && (b[i] === 32 || b[i] === 9)) i++;
  return i;
}

/** sameBytes tells whether `b[from, to)`, without trailing blanks, is `want` (case-insensitive). */
function sameBytes(b: Uint8Array, from: number, to: number, want: Uint8Array): boolean {
  while (to > from && (b[to - 1] === 32 || b[to - 1] === 9)) to--;
  if (to - from !== want.length) return false;
  for (let k = 0; k < want.length; k++) if (((b[from + k] ?? 0) | 0x20) !== want[k]) return false;
  return true;
}

/** digits reads a Content-Length value in `b[from, to)`: blanks around one run of digits. */
function digits(b: Uint8Array, from: number, to: number): number {
  let i = skipSpace(b, from, to);
  let n = 0;
  let count = 0;
  while (i < to) {
    const d = (b[i] ?? 0) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
    count++;
    i++;
  }
  if (count === 0 || count > 15 || skipSpace(b, i, to) !== to) throw new ResponseParseError(`bad Content-Length ${quote(b, from, to)}`);
  return n;
}

/** quote shows the start of some bytes in an error message. */
function quote(b: Uint8Array, from: number, to: number): string {
  return JSON.stringify(Buffer.from(b.buffer, b.byteOffset + from, Math.min(40, Math.max(0, to - from))).toString('latin1'));
}
