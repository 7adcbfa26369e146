/**
 * The upstream response parser: HTTP/1.1 status line, header fields, and the three body
 * framings (Content-Length, chunked with extensions and trailers, read until close), fed
 * whatever pieces the socket delivers (docs/upstream-client.md).
 *
 * It is a security boundary (RFC 9112 §6.3, docs/bad-input.md §F): whatever it cannot
 * read exactly is an error, and a connection whose parser failed is never reused. It is strict
 * where nginx is: an invalid status line, a bad chunk size, Content-Length together with
 * Transfer-Encoding, duplicate Content-Length, a head over the size limit. It is stricter on
 * bytes nginx tolerates and RFC 9112 forbids (bare LF, obs-fold, control characters, a space
 * before the colon), as undici was.
 *
 * It never copies body bytes: body pieces are handed out as ranges of the buffer it was given.
 * A head that arrives in several reads is collected in a buffer of its own (the read buffer is
 * reused by the next read); one that arrives whole is read in place.
 */

/** ParserSink receives what the parser finds, synchronously, during execute(). */
export interface ParserSink {
  /** onHead sees the final response head; `head` is only valid during the call. */
  onHead(head: ResponseHead): void;
  /** onBody sees body bytes `buf[start, end)`; they are only valid during the call. */
  onBody(buf: Buffer, start: number, end: number): void;
}

/** BodyMode says how the body of a response is delimited. */
export const enum BodyMode {
  /** No body (HEAD, 204, 304, or Content-Length: 0). */
  None = 0,
  Length = 1,
  Chunked = 2,
  /** Until the upstream closes the connection (no framing given). */
  Close = 3,
}

/** ParseError codes: why a response was refused. */
export const ParseErrors = {
  1: 'invalid status line',
  2: 'unsupported HTTP version',
  3: 'status outside 100-599',
  4: 'invalid header field',
  5: 'response head too large',
  6: 'invalid Content-Length',
  7: 'duplicate Content-Length',
  8: 'both Content-Length and Transfer-Encoding',
  9: 'unsupported Transfer-Encoding',
  10: 'invalid chunk size',
  11: 'invalid chunk framing',
  12: 'invalid trailer section',
  13: '101 Switching Protocols without an upgrade request',
} as const;

/** ParseError is a key of ParseErrors (0 means no error). */
export type ParseError = keyof typeof ParseErrors | 0;

/**
 * ResponseHead is the final head of a response, read in place: field names and values are
 * ranges of `buf` (from offset `base`), valid only during ParserSink.onHead.
 */
export class ResponseHead {
  status = 0;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor = 1;
  /** The buffer the head lies in, and the offset the field offsets count from. */
  buf: Buffer = EMPTY;
  base = 0;
  /** Number of header fields; offsets of field i at `fields[4i..4i+3]`: name start/end, value start/end. */
  count = 0;
  fields: Int32Array = new Int32Array(4 * 64);
  /** Content-Length, or -1 when none was sent. */
  contentLength = -1;
  chunked = false;
  /** The upstream said `Connection: close`. */
  close = false;
  /** The upstream's Connection field lists field names besides close/keep-alive (stripped before forwarding). */
  connectionTokens = false;
  /** A value holds bytes of 0x80 and above (must reach uWS as bytes, not as a JS string). */
  nonAscii = false;
  bodyMode: BodyMode = BodyMode.None;

  reset(): void {
    this.status = 0;
    this.minor = 1;
    this.count = 0;
    this.contentLength = -1;
    this.chunked = false;
    this.close = false;
    this.connectionTokens = false;
    this.nonAscii = false;
    this.bodyMode = BodyMode.None;
  }

  /** nameAt returns field i's name as a lower-case string (slow path: logging, the cache). */
  nameAt(i: number): string {
    const f = this.fields;
    return this.buf.toString('latin1', this.base + (f[4 * i] as number), this.base + (f[4 * i + 1] as number)).toLowerCase();
  }

  /** rawNameAt returns field i's name exactly as the upstream wrote it (Latin-1: byte-exact), for the cache to replay. */
  rawNameAt(i: number): string {
    const f = this.fields;
    return this.buf.toString('latin1', this.base + (f[4 * i] as number), this.base + (f[4 * i + 1] as number));
  }

  /** valueAt returns field i's value as a Latin-1 string (byte-exact). */
  valueAt(i: number): string {
    const f = this.fields;
    return this.buf.toString('latin1', this.base + (f[4 * i + 2] as number), this.base + (f[4 * i + 3] as number));
  }

  /** nameIs compares field i's name with `lower` (a lower-case ASCII name) without making a string. */
  nameIs(i: number, lower: string): boolean {
    const f = this.fields;
    const s = this.base + (f[4 * i] as number);
    const e = this.base + (f[4 * i + 1] as number);
    if (e - s !== lower.length) return false;
    const b = this.buf;
    for (let k = 0; k < lower.length; k++) if (((b[s + k] as number) | 0x20) !== lower.charCodeAt(k)) return false;
    return true;
  }

  /** pairs returns every field as [lower-case name, Latin-1 value] (the cache stores these). */
  pairs(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.count; i++) out.push([this.nameAt(i), this.valueAt(i)]);
    return out;
  }
}

const EMPTY = Buffer.alloc(0);

// Parser states.
const S_STATUS = 0;
const S_FIELD = 1;
const S_BODY_LENGTH = 2;
const S_BODY_CLOSE = 3;
const S_CHUNK_SIZE = 4;
const S_CHUNK_EXT = 5;
const S_CHUNK_SIZE_LF = 6;
const S_CHUNK_DATA = 7;
const S_CHUNK_DATA_CR = 8;
const S_CHUNK_DATA_LF = 9;
const S_TRAILER = 10;
const S_DONE = 11;
const S_ERROR = 12;
const S_TRAILER_LF = 13;

/** TCHAR[c] is 1 when c may appear in a field name (RFC 9110 §5.6.2 token). */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** HEX[c] is the value of hex digit c, or 255. */
const HEX = new Uint8Array(256).fill(255);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

/** A chunk size longer than this many hex digits (2^52) is refused rather than lose precision. */
const MAX_CHUNK_DIGITS = 13;

/** DEFAULT_MAX_HEAD_BYTES bounds a response head (status line and fields) as undici's default did. */
export const DEFAULT_MAX_HEAD_BYTES = 16 * 1024;

/**
 * ResponseParser reads one response after another on one connection. Call reset() before each
 * request, execute() with each read, and finish() when the upstream closes.
 */
export class ResponseParser {
  readonly head = new ResponseHead();
  readonly #sink: ParserSink;
  readonly #maxHeadBytes: number;
  #state = S_STATUS;
  #error: ParseError = 0;
  /** The request was HEAD: the response has no body whatever its fields say. */
  #noBody = false;
  /** 1xx heads read before the final one (absorbed, as nginx does for 100 and 103). */
  informational = 0;

  // Head collection.
  /** Own copy of a head split over reads (allocated on first need). */
  #headBuf: Buffer | null = null;
  /** Bytes of the current head held in #headBuf; -1 while the head is read in place. */
  #headLen = -1;
  /** Offset (from the head's start) of the line being read, and how far it was scanned. */
  #lineStart = 0;
  #scanned = 0;
  #seenContentLength = false;
  #seenTransferEncoding = false;

  // Body.
  #remaining = 0;
  #chunkDigits = 0;
  #trailerBytes = 0;
  #trailerLineEmpty = true;
  /** A 204/304 (or a HEAD answer) announced a body: the connection must not be reused. */
  framingIgnored = false;
  /** The response was complete with bytes left over in the last read: never reuse. */
  leftover = false;
  /** Where in the last execute() the complete response ended (meaningful with `leftover`). */
  stoppedAt = 0;

  constructor(sink: ParserSink, maxHeadBytes = DEFAULT_MAX_HEAD_BYTES) {
    this.#sink = sink;
    this.#maxHeadBytes = maxHeadBytes;
  }

  /** reset readies the parser for the response to a new request (`noBody`: the request was HEAD). */
  reset(noBody: boolean): void {
    this.#noBody = noBody;
    this.#state = S_STATUS;
    this.#error = 0;
    this.#headLen = -1;
    this.#lineStart = 0;
    this.#scanned = 0;
    this.#seenContentLength = false;
    this.#seenTransferEncoding = false;
    this.#remaining = 0;
    this.#chunkDigits = 0;
    this.#trailerBytes = 0;
    this.#trailerLineEmpty = true;
    this.framingIgnored = false;
    this.leftover = false;
    this.informational = 0;
    this.head.reset();
  }

  /** done says the response is complete. */
  get done(): boolean {
    return this.#state === S_DONE;
  }

  /** headDone says the final head was read (body or later). */
  get headDone(): boolean {
    return this.#state >= S_BODY_LENGTH && this.#state !== S_ERROR;
  }

  /** error is why the response was refused (0: it was not). */
  get error(): ParseError {
    return this.#error;
  }

  /** errorText describes the error. */
  get errorText(): string {
    return this.#error === 0 ? '' : ParseErrors[this.#error];
  }

  /**
   * execute reads `buf[start, end)`. It returns the error code (0 when fine); when the
   * response completes it stops there and sets `leftover` if bytes remained.
   */
  execute(buf: Buffer, start: number, end: number): ParseError {
    let i = start;
    while (i < end) {
      switch (this.#state) {
        case S_STATUS:
        case S_FIELD:
          i = this.#readHead(buf, i, end);
          break;
        case S_BODY_LENGTH: {
          const n = Math.min(this.#remaining, end - i);
          this.#remaining -= n;
          const from = i;
          i += n;
          if (this.#remaining === 0) this.#state = S_DONE;
          this.#sink.onBody(buf, from, i);
          break;
        }
        case S_BODY_CLOSE:
          this.#sink.onBody(buf, i, end);
          i = end;
          break;
        case S_CHUNK_DATA: {
          const n = Math.min(this.#remaining, end - i);
          this.#remaining -= n;
          const from = i;
          i += n;
          if (this.#remaining === 0) this.#state = S_CHUNK_DATA_CR;
          this.#sink.onBody(buf, from, i);
          break;
        }
        case S_DONE:
          this.stoppedAt = i;
          this.leftover = true;
          return 0;
        case S_ERROR:
          return this.#error;
        default:
          i = this.#readChunkFraming(buf, i, end);
      }
      if (this.#state === S_ERROR) return this.#error;
      if (this.#state === S_DONE) {
        this.stoppedAt = i;
        if (i < end) this.leftover = true;
        return 0;
      }
    }
    return this.#error;
  }

  /**
   * finish is called when the upstream closed the connection: a read-until-close body ends
   * there (true); any other unfinished response is truncated (false).
   */
  finish(): boolean {
    if (this.#state === S_BODY_CLOSE) {
      this.#state = S_DONE;
      return true;
    }
    return this.#state === S_DONE;
  }

  /** stop makes the parser refuse everything after (the connection is being torn down). */
  stop(): void {
    if (this.#state !== S_DONE) this.#fail(11);
  }

  #fail(code: Exclude<ParseError, 0>): number {
    this.#state = S_ERROR;
    this.#error = code;
    return Number.MAX_SAFE_INTEGER;
  }

  /**
   * #readHead reads head lines from buf[i, end). A head that starts and ends inside this read
   * is parsed in place; otherwise its bytes are copied into #headBuf as they come.
   */
  #readHead(buf: Buffer, i: number, end: number): number {
    if (this.#headLen < 0) {
      // In place: the head starts at i. Scan lines; if the read ends first, move to #headBuf.
      const base = i;
      const stop = this.#scanLines(buf, base, i - base, end - base);
      if (this.#state === S_ERROR) return end;
      if (stop >= 0) return base + stop; // head complete (stop: bytes consumed from base)
      const have = end - base;
      if (have > this.#maxHeadBytes) return this.#fail(5);
      const hb = (this.#headBuf ??= Buffer.allocUnsafe(this.#maxHeadBytes));
      buf.copy(hb, 0, base, end);
      this.#headLen = have;
      return end;
    }
    // Continue a head in #headBuf.
    const hb = this.#headBuf as Buffer;
    const room = this.#maxHeadBytes - this.#headLen;
    const take = Math.min(room, end - i);
    buf.copy(hb, this.#headLen, i, i + take);
    const before = this.#headLen;
    this.#headLen += take;
    const stop = this.#scanLines(hb, 0, this.#scanned, this.#headLen);
    if (this.#state === S_ERROR) return end;
    if (stop >= 0) {
      this.#headLen = -1;
      return i + (stop - before);
    }
    if (take < end - i || this.#headLen >= this.#maxHeadBytes) return this.#fail(5);
    return end;
  }

  /**
   * #scanLines scans b[base + from, base + to) for complete head lines and handles each. It
   * returns the offset (from base) just past the head's empty line, or -1 if the head goes on.
   */
  #scanLines(b: Buffer, base: number, from: number, to: number): number {
    let p = from;
    while (p < to) {
      const c = b[base + p] as number;
      p++;
      if (c !== 0x0a) continue;
      // A line [lineStart, p - 2) ended with CRLF at p - 2.
      if (p - 2 < this.#lineStart || b[base + p - 2] !== 0x0d) {
        this.#fail(this.#state === S_STATUS ? 1 : 4); // bare LF
        return -1;
      }
      if (p > this.#maxHeadBytes) {
        this.#fail(5);
        return -1;
      }
      const ls = this.#lineStart;
      const le = p - 2;
      this.#lineStart = p;
      if (this.#state === S_STATUS) {
        if (!this.#statusLine(b, base, ls, le)) return -1;
        this.#state = S_FIELD;
        continue;
      }
      if (le === ls) {
        // End of the head.
        const done = this.#headEnd(b, base);
        if (this.#state === S_ERROR) return -1;
        if (done) return p;
        // A 1xx: the next head starts at p (same base).
        continue;
      }
      if (!this.#field(b, base, ls, le)) return -1;
    }
    this.#scanned = p;
    if (p > this.#maxHeadBytes) this.#fail(5);
    return -1;
  }

  /** #statusLine checks `HTTP/1.x SP 3DIGIT [SP reason]` (RFC 9112 §4). */
  #statusLine(b: Buffer, base: number, ls: number, le: number): boolean {
    const s = base + ls;
    const len = le - ls;
    if (
      len < 12 ||
      b[s] !== 0x48 || b[s + 1] !== 0x54 || b[s + 2] !== 0x54 || b[s + 3] !== 0x50 || b[s + 4] !== 0x2f ||
      b[s + 6] !== 0x2e || b[s + 8] !== 0x20
    ) {
      this.#fail(1);
      return false;
    }
    const major = b[s + 5] as number;
    const minor = b[s + 7] as number;
    if (major < 0x30 || major > 0x39 || minor < 0x30 || minor > 0x39) {
      this.#fail(1);
      return false;
    }
    if (major !== 0x31 || (minor !== 0x30 && minor !== 0x31)) {
      this.#fail(2);
      return false;
    }
    const d1 = (b[s + 9] as number) - 0x30;
    const d2 = (b[s + 10] as number) - 0x30;
    const d3 = (b[s + 11] as number) - 0x30;
    if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9 || (len > 12 && b[s + 12] !== 0x20)) {
      this.#fail(1);
      return false;
    }
    for (let k = s + 13; k < base + le; k++) {
      const c = b[k] as number;
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
        this.#fail(1);
        return false;
      }
    }
    const status = d1 * 100 + d2 * 10 + d3;
    if (status < 100 || status > 599) {
      this.#fail(3);
      return false;
    }
    const h = this.head;
    h.status = status;
    h.minor = minor - 0x30;
    return true;
  }

  /** #field checks one field line and records it (and what it says about framing). */
  #field(b: Buffer, base: number, ls: number, le: number): boolean {
    const s = base + ls;
    const e = base + le;
    let k = s;
    while (k < e && TCHAR[b[k] as number] === 1) k++;
    // An empty name, a space before the colon or an obs-fold line (leading white space) land here.
    if (k === s || k === e || b[k] !== 0x3a) {
      this.#fail(4);
      return false;
    }
    const nameEnd = k;
    k++;
    while (k < e && (b[k] === 0x20 || b[k] === 0x09)) k++;
    const vs = k;
    let ve = vs;
    let high = false;
    for (; k < e; k++) {
      const c = b[k] as number;
      if (c === 0x20 || c === 0x09) continue;
      if (c < 0x20 || c === 0x7f) {
        this.#fail(4);
        return false;
      }
      if (c >= 0x80) high = true;
      ve = k + 1;
    }
    const h = this.head;
    if (high) h.nonAscii = true;
    const n = h.count;
    if (4 * n + 4 > h.fields.length) {
      const grown = new Int32Array(h.fields.length * 2);
      grown.set(h.fields);
      h.fields = grown;
    }
    const f = h.fields;
    f[4 * n] = s - base;
    f[4 * n + 1] = nameEnd - base;
    f[4 * n + 2] = vs - base;
    f[4 * n + 3] = ve - base;
    h.count = n + 1;
    const nameLen = nameEnd - s;
    const c0 = (b[s] as number) | 0x20;
    if (nameLen === 14 && c0 === 0x63 && equalsLower(b, s, nameEnd, 'content-length')) return this.#contentLength(b, vs, ve);
    if (nameLen === 17 && c0 === 0x74 && equalsLower(b, s, nameEnd, 'transfer-encoding')) {
      if (this.#seenTransferEncoding || !equalsLower(b, vs, ve, 'chunked')) {
        this.#fail(9);
        return false;
      }
      this.#seenTransferEncoding = true;
      h.chunked = true;
      return true;
    }
    if (nameLen === 10 && c0 === 0x63 && equalsLower(b, s, nameEnd, 'connection')) this.#connection(b, vs, ve);
    return true;
  }

  #contentLength(b: Buffer, vs: number, ve: number): boolean {
    if (this.#seenContentLength) {
      this.#fail(7);
      return false;
    }
    this.#seenContentLength = true;
    const len = ve - vs;
    if (len === 0 || len > 15) {
      this.#fail(6);
      return false;
    }
    let v = 0;
    for (let k = vs; k < ve; k++) {
      const d = (b[k] as number) - 0x30;
      if (d < 0 || d > 9) {
        this.#fail(6);
        return false;
      }
      v = v * 10 + d;
    }
    this.head.contentLength = v;
    return true;
  }

  /** #connection reads the Connection tokens: close, keep-alive, or field names to strip. */
  #connection(b: Buffer, vs: number, ve: number): void {
    const h = this.head;
    let k = vs;
    while (k < ve) {
      while (k < ve && (b[k] === 0x20 || b[k] === 0x09 || b[k] === 0x2c)) k++;
      const ts = k;
      while (k < ve && b[k] !== 0x2c && b[k] !== 0x20 && b[k] !== 0x09) k++;
      if (k === ts) continue;
      if (equalsLower(b, ts, k, 'close')) h.close = true;
      else if (!equalsLower(b, ts, k, 'keep-alive')) h.connectionTokens = true;
    }
  }

  /**
   * #headEnd handles the end of a head at offset p (from base). A 1xx is absorbed (its fields
   * dropped) and false returned so the next head is read; the final head goes to the sink.
   */
  #headEnd(b: Buffer, base: number): boolean {
    const h = this.head;
    if (h.status < 200) {
      if (h.status === 101) {
        this.#fail(13);
        return false;
      }
      // 100 Continue (we never send Expect, but RFC 9110 §15.2 says to parse it), 102, 103
      // Early Hints: absorbed, as nginx 1.22 does; the final response follows.
      this.informational++;
      h.reset();
      this.#state = S_STATUS;
      this.#seenContentLength = false;
      this.#seenTransferEncoding = false;
      return false;
    }
    if (h.chunked && this.#seenContentLength) {
      this.#fail(8);
      return false;
    }
    h.buf = b;
    h.base = base;
    let mode: BodyMode;
    if (this.#noBody || h.status === 204 || h.status === 304) {
      mode = BodyMode.None;
      // A body announced where none may follow: whatever arrives next is not a response.
      if (h.chunked || (h.contentLength > 0 && !this.#noBody)) this.framingIgnored = true;
    } else if (h.chunked) mode = BodyMode.Chunked;
    else if (h.contentLength >= 0) mode = h.contentLength === 0 ? BodyMode.None : BodyMode.Length;
    else mode = BodyMode.Close;
    h.bodyMode = mode;
    switch (mode) {
      case BodyMode.None:
        this.#state = S_DONE;
        break;
      case BodyMode.Length:
        this.#remaining = h.contentLength;
        this.#state = S_BODY_LENGTH;
        break;
      case BodyMode.Chunked:
        this.#state = S_CHUNK_SIZE;
        this.#chunkDigits = 0;
        this.#remaining = 0;
        break;
      case BodyMode.Close:
        this.#state = S_BODY_CLOSE;
        break;
    }
    this.#sink.onHead(h);
    return true;
  }

  /** #readChunkFraming reads chunk sizes, extensions, the CRLF after data, and trailers. */
  #readChunkFraming(b: Buffer, i: number, end: number): number {
    while (i < end) {
      const c = b[i] as number;
      switch (this.#state) {
        case S_CHUNK_SIZE: {
          const d = HEX[c] as number;
          if (d !== 255) {
            if (++this.#chunkDigits > MAX_CHUNK_DIGITS) return this.#fail(10);
            this.#remaining = this.#remaining * 16 + d;
            i++;
            continue;
          }
          if (this.#chunkDigits === 0) return this.#fail(10);
          if (c === 0x0d) this.#state = S_CHUNK_SIZE_LF;
          else if (c === 0x3b || c === 0x20 || c === 0x09) this.#state = S_CHUNK_EXT;
          else return this.#fail(10);
          i++;
          continue;
        }
        case S_CHUNK_EXT:
          // chunk-ext (RFC 9112 §7.1.1), ignored: anything but control characters up to CRLF.
          if (c === 0x0d) this.#state = S_CHUNK_SIZE_LF;
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.#fail(10);
          i++;
          continue;
        case S_CHUNK_SIZE_LF:
          if (c !== 0x0a) return this.#fail(10);
          i++;
          if (this.#remaining === 0) {
            this.#state = S_TRAILER;
            this.#trailerLineEmpty = true;
          } else this.#state = S_CHUNK_DATA;
          return i;
        case S_CHUNK_DATA_CR:
          if (c !== 0x0d) return this.#fail(11);
          this.#state = S_CHUNK_DATA_LF;
          i++;
          continue;
        case S_CHUNK_DATA_LF:
          if (c !== 0x0a) return this.#fail(11);
          this.#state = S_CHUNK_SIZE;
          this.#chunkDigits = 0;
          i++;
          continue;
        case S_TRAILER:
          // Trailer fields are read and dropped (nginx does not pass them to HTTP/1.1 clients
          // either); bounded like a head, every line CRLF-terminated, no control bytes.
          if (++this.#trailerBytes > this.#maxHeadBytes) return this.#fail(12);
          i++;
          if (c === 0x0a) return this.#fail(12); // bare LF
          if (c === 0x0d) {
            if (i >= end) {
              this.#state = S_TRAILER_LF;
              return i;
            }
            if (b[i] !== 0x0a) return this.#fail(12);
            i++;
            if (this.#trailerLineEmpty) {
              this.#state = S_DONE;
              return i;
            }
            this.#trailerLineEmpty = true;
            continue;
          }
          if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.#fail(12);
          this.#trailerLineEmpty = false;
          continue;
        case S_TRAILER_LF:
          if (c !== 0x0a) return this.#fail(12);
          i++;
          if (this.#trailerLineEmpty) {
            this.#state = S_DONE;
            return i;
          }
          this.#trailerLineEmpty = true;
          this.#state = S_TRAILER;
          continue;
        default:
          return i;
      }
    }
    return i;
  }
}

/** equalsLower compares b[s, e) with a lower-case ASCII word, ignoring case. */
function equalsLower(b: Buffer, s: number, e: number, word: string): boolean {
  if (e - s !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (((b[s + k] as number) | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}
