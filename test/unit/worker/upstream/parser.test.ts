/**
 * The upstream response parser: table cases (what is read, what is refused, as nginx and RFC
 * 9112 say), and a property test: every response of a seeded random corpus, valid or mutated,
 * split at every byte offset (and in random pieces, several responses back to back on one
 * connection), never throws and reads the same thing however it is split: no desync.
 */
import { describe, expect, it } from 'vitest';
import { BodyMode, ResponseParser, type ParserSink, type ResponseHead } from '../../../../src/worker/upstream/parser.js';

/** Outcome is everything a parse produced, comparable across splits. */
interface Outcome {
  heads: { status: number; minor: number; fields: [string, string][]; mode: BodyMode; contentLength: number; close: boolean; tokens: boolean }[];
  body: string;
  /** Responses completed. */
  done: number;
  error: string;
  leftover: boolean;
  framingIgnored: boolean;
}

/** One reused read buffer, as the client's: every piece is copied in with junk after it. */
const scratch = Buffer.alloc(70_000, 0x41);

/** run feeds `pieces` to one parser (several responses back to back) and records what it read. */
function run(pieces: readonly Buffer[], opts: { head?: boolean; eof?: boolean; maxHead?: number } = {}): Outcome {
  const out: Outcome = { heads: [], body: '', done: 0, error: '', leftover: false, framingIgnored: false };
  const sink: ParserSink = {
    onHead(h: ResponseHead) {
      out.heads.push({ status: h.status, minor: h.minor, fields: h.pairs(), mode: h.bodyMode, contentLength: h.contentLength, close: h.close, tokens: h.connectionTokens });
    },
    onBody(buf, start, end) {
      out.body += buf.toString('latin1', start, end);
    },
  };
  const p = new ResponseParser(sink, opts.maxHead);
  p.reset(opts.head === true);
  for (const piece of pieces) {
    const n = piece.copy(scratch, 0);
    scratch.fill(0x5a, n, n + 64);
    let from = 0;
    while (from < n) {
      const err = p.execute(scratch, from, n);
      if (err !== 0) {
        out.error = p.errorText;
        return out;
      }
      if (!p.done) break;
      // Complete: in the client, leftover bytes make the connection unusable; here they are
      // read as the next response, to check that responses back to back never desync.
      out.done++;
      out.framingIgnored ||= p.framingIgnored;
      out.leftover ||= p.leftover;
      from = p.leftover ? p.stoppedAt : n;
      p.reset(opts.head === true);
    }
    // A response that completed exactly at the end of a piece with nothing more.
  }
  if (opts.eof === true && p.finish()) out.done++;
  return out;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** norm drops what depends on where reads end (whether a response ended mid-read). */
const norm = (o: Outcome): Omit<Outcome, 'leftover'> => {
  const { leftover: _, ...rest } = o;
  return rest;
};

describe('ResponseParser: what it reads', () => {
  it.each([
    { name: 'Content-Length', input: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello', status: 200, body: 'hello', mode: BodyMode.Length },
    { name: 'no reason phrase', input: 'HTTP/1.1 204\r\n\r\n', status: 204, body: '', mode: BodyMode.None },
    { name: 'empty reason phrase', input: 'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n', status: 200, body: '', mode: BodyMode.None },
    { name: 'chunked with extensions and trailers', input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6 ; x="y"\r\n world\r\n0\r\nX-Trailer: t\r\nX-T2: u\r\n\r\n', status: 200, body: 'hello world', mode: BodyMode.Chunked },
    { name: 'chunked, upper-case hex and TE in another case', input: 'HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n', status: 200, body: '0123456789', mode: BodyMode.Chunked },
    { name: '100 Continue absorbed', input: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', mode: BodyMode.Length },
    { name: '103 Early Hints absorbed', input: 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', mode: BodyMode.Length },
    { name: '304 with a Content-Length has no body', input: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', status: 304, body: '', mode: BodyMode.None },
    { name: 'HTTP/1.0', input: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', mode: BodyMode.Length },
    { name: 'obs-text in a value', input: 'HTTP/1.1 200 OK\r\nX-V: caf\xe9\r\nContent-Length: 0\r\n\r\n', status: 200, body: '', mode: BodyMode.None },
  ])('$name', ({ input, status, body, mode }) => {
    const o = run([b(input)]);
    expect(o.error).toBe('');
    expect(o.done).toBe(1);
    expect(o.heads).toHaveLength(1);
    expect(o.heads[0]?.status).toBe(status);
    expect(o.heads[0]?.mode).toBe(mode);
    expect(o.body).toBe(body);
  });

  it('keeps field names, values (trimmed of white space) and duplicates in order', () => {
    const o = run([b('HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Sp:   padded  \r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n')]);
    expect(o.heads[0]?.fields).toEqual([['set-cookie', 'a=1'], ['x-sp', 'padded'], ['set-cookie', 'b=2'], ['content-length', '0']]);
  });

  it('reads until close without framing, and only then is done', () => {
    const o = run([b('HTTP/1.1 200 OK\r\n\r\nsome'), b(' more')], { eof: true });
    expect([o.heads[0]?.mode, o.body, o.done]).toEqual([BodyMode.Close, 'some more', 1]);
  });

  it('HEAD: a Content-Length describes the GET body; nothing is read as body', () => {
    const o = run([b('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n')], { head: true });
    expect([o.heads[0]?.contentLength, o.body, o.done, o.framingIgnored]).toEqual([1234, '', 1, false]);
  });

  it('204 announcing a chunked body: no body, and the connection is marked unusable', () => {
    const o = run([b('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n')]);
    expect([o.done, o.framingIgnored]).toEqual([1, true]);
  });

  it('bytes after a complete response are reported as leftover', () => {
    const o = run([b('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA')]);
    expect([o.body, o.leftover]).toEqual(['ok', true]);
  });

  it('Connection: close and listed field names are reported', () => {
    const o = run([b('HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nContent-Length: 0\r\n\r\n')]);
    expect([o.heads[0]?.close, o.heads[0]?.tokens]).toEqual([true, true]);
  });
});

describe('ResponseParser: what it refuses (502 upstream, connection never reused)', () => {
  it.each([
    ['garbage status line', 'FOO 200 OK\r\n\r\n', 'invalid status line'],
    ['ICY status line', 'ICY 200 OK\r\n\r\n', 'invalid status line'],
    ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', 'invalid status line'],
    ['status with letters', 'HTTP/1.1 2x0 OK\r\n\r\n', 'invalid status line'],
    ['no space after the version', 'HTTP/1.1\t200 OK\r\n\r\n', 'invalid status line'],
    ['HTTP/2.0 on an HTTP/1.1 connection', 'HTTP/2.0 200 OK\r\n\r\n', 'unsupported HTTP version'],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n', 'unsupported HTTP version'],
    ['status 999', 'HTTP/1.1 999 Weird\r\nContent-Length: 0\r\n\r\n', 'status outside 100-599'],
    ['status 099', 'HTTP/1.1 099 Low\r\n\r\n', 'status outside 100-599'],
    ['bare LF after the status line', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', 'invalid status line'],
    ['bare LF in the fields', 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n', 'invalid header field'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n', 'invalid header field'],
    ['space before the colon', 'HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n', 'invalid header field'],
    ['no colon', 'HTTP/1.1 200 OK\r\nX-A\r\n\r\n', 'invalid header field'],
    ['empty name', 'HTTP/1.1 200 OK\r\n: v\r\n\r\n', 'invalid header field'],
    ['NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n', 'invalid header field'],
    ['CR in a value', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n', 'invalid header field'],
    ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'both Content-Length and Transfer-Encoding'],
    ['differing duplicate Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 'duplicate Content-Length'],
    ['identical duplicate Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', 'duplicate Content-Length'],
    ['Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello', 'invalid Content-Length'],
    ['negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'invalid Content-Length'],
    ['huge Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n', 'invalid Content-Length'],
    ['Transfer-Encoding: gzip', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx', 'unsupported Transfer-Encoding'],
    ['Transfer-Encoding: gzip, chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 'unsupported Transfer-Encoding'],
    ['two Transfer-Encoding fields', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'unsupported Transfer-Encoding'],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['empty chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['negative chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['overlong chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\nx', 'invalid chunk size'],
    ['chunk size with bare LF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n', 'invalid chunk size'],
    ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n', 'invalid chunk framing'],
    ['trailer with bare LF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n', 'invalid trailer section'],
    ['101 without an upgrade request', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', '101 Switching Protocols without an upgrade request'],
    ['a 20 KB head', `HTTP/1.1 200 OK\r\nX-Big: ${'v'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`, 'response head too large'],
  ])('%s', (_name, input, error) => {
    expect(run([b(input)]).error).toBe(error);
    // The same refusal whatever the split (here: one byte per read).
    expect(run([...b(input)].map((c) => Buffer.from([c]))).error).toBe(error);
  });

  it('a head just under the limit is read; one byte over is refused', () => {
    const headOf = (n: number): string => {
      const base = 'HTTP/1.1 200 OK\r\nX-Pad: \r\nContent-Length: 0\r\n\r\n';
      return base.replace('X-Pad: ', `X-Pad: ${'p'.repeat(n - base.length)}`);
    };
    expect(run([b(headOf(1024))], { maxHead: 1024 }).error).toBe('');
    expect(run([b(headOf(1025))], { maxHead: 1024 }).error).toBe('response head too large');
  });
});

// --- property test ---------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&\'*+.^`|~';

/** validResponse builds a random well-formed response and the body it carries. */
function validResponse(r: () => number): { bytes: string; body: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const word = (n: number, alphabet = TOKEN): string => Array.from({ length: 1 + Math.floor(r() * n) }, () => pick([...alphabet])).join('');
  const status = pick([200, 201, 202, 203, 206, 301, 302, 400, 404, 500, 503]);
  const fields: string[] = [];
  for (let i = Math.floor(r() * 6); i > 0; i--) fields.push(`${word(12)}:${pick(['', ' ', '  ', '\t'])}${word(20, 'abc def=;,/"\\?()<>@xyz\x80\xff')}${pick(['', ' '])}`.replace(/^(content-length|transfer-encoding|connection):/i, 'x-$1:'));
  const body = word(300, 'abcdefghij\r\n\0\xff');
  let bytes = `HTTP/1.1 ${status}${pick([' OK', '', ' ', ' Some Reason'])}\r\n`;
  if (r() < 0.2) bytes = `HTTP/1.1 ${pick([100, 103])} Info\r\n${r() < 0.5 ? 'Link: </x>\r\n' : ''}\r\n${bytes}`;
  const framing = r();
  let encoded: string;
  if (framing < 0.5) {
    fields.push(`Content-Length: ${body.length}`);
    encoded = body;
  } else {
    fields.push(`Transfer-Encoding: ${pick(['chunked', 'Chunked', 'CHUNKED'])}`);
    encoded = '';
    let at = 0;
    while (at < body.length) {
      const n = Math.min(body.length - at, 1 + Math.floor(r() * 120));
      encoded += `${n.toString(16)}${pick(['', ';ext', ';a=b;c="d e"', ' ;x'])}\r\n${body.slice(at, at + n)}\r\n`;
      at += n;
    }
    encoded += `0\r\n${r() < 0.3 ? 'X-Trailer: t\r\n' : ''}\r\n`;
  }
  fields.sort(() => r() - 0.5);
  bytes += fields.map((f) => `${f}\r\n`).join('') + '\r\n' + encoded;
  return { bytes, body };
}

/** mutate changes, inserts or deletes a few bytes (the result may or may not be valid). */
function mutate(r: () => number, s: string): string {
  let out = s;
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * out.length);
    const c = String.fromCharCode(['\r', '\n', ' ', ':', '0', 'f', '\0', ';', 'x', '\x7f', '\x80'].map((x) => x.charCodeAt(0))[Math.floor(r() * 11)] as number);
    const op = r();
    out = op < 0.4 ? out.slice(0, at) + c + out.slice(at + 1) : op < 0.7 ? out.slice(0, at) + c + out.slice(at) : out.slice(0, at) + out.slice(at + 1);
  }
  return out;
}

/** splits returns the response cut at every offset into two pieces, and a few random multi-piece cuts. */
function* splits(r: () => number, bytes: Buffer): Generator<Buffer[]> {
  for (let cut = 1; cut < bytes.length; cut++) yield [bytes.subarray(0, cut), bytes.subarray(cut)];
  for (let k = 0; k < 5; k++) {
    const pieces: Buffer[] = [];
    let at = 0;
    while (at < bytes.length) {
      const n = 1 + Math.floor(r() * 40);
      pieces.push(bytes.subarray(at, at + n));
      at += n;
    }
    yield pieces;
  }
}

describe('ResponseParser: property test (seeded corpus, every split)', () => {
  it('valid responses: the same head and body at every split, back to back without desync', () => {
    const r = prng(13);
    for (let i = 0; i < 100; i++) {
      const a = validResponse(r);
      const c = validResponse(r);
      const one = Buffer.from(a.bytes, 'latin1');
      const whole = run([one]);
      expect(whole.error, a.bytes).toBe('');
      expect(whole.body).toBe(a.body);
      expect(whole.done).toBe(1);
      for (const pieces of splits(r, one)) expect(norm(run(pieces))).toEqual(norm(whole));
      // Two responses on one connection, split anywhere: both read, in order.
      const two = Buffer.from(a.bytes + c.bytes, 'latin1');
      const reference = run([one, Buffer.from(c.bytes, 'latin1')]);
      expect(reference.body).toBe(a.body + c.body);
      expect(reference.done).toBe(2);
      for (let cut = a.bytes.length; cut < two.length; cut += 7) {
        expect(norm(run([two.subarray(0, cut), two.subarray(cut)]))).toEqual(norm(reference));
      }
    }
  }, 60_000);

  it('mutated and random inputs: never a throw, and the same outcome at every split', () => {
    const r = prng(1313);
    for (let i = 0; i < 300; i++) {
      const input = i % 8 === 7 ? Array.from({ length: Math.floor(r() * 200) }, () => String.fromCharCode(Math.floor(r() * 256))).join('') : mutate(r, validResponse(r).bytes);
      const bytes = Buffer.from(input, 'latin1');
      const whole = run([bytes], { eof: true });
      for (const pieces of splits(r, bytes)) {
        const split = run(pieces, { eof: true });
        // A split can only change *when* an error is seen, never whether, or what was read before.
        expect(split.error, JSON.stringify(input)).toBe(whole.error);
        expect(split.heads).toEqual(whole.heads);
        expect(split.done).toBe(whole.done);
        if (whole.error === '') expect(split.body).toBe(whole.body);
      }
    }
  }, 60_000);
});
