/**
 * The load generator's response parser: it frames Content-Length, chunked and read-to-close
 * bodies whatever the split of the bytes, reads the status and the keep-alive decision, skips
 * interim responses, and refuses what it cannot frame.
 */
import { describe, expect, it } from 'vitest';
import { ResponseParseError, ResponseParser } from '../../../src/loadgen/response-parser.js';

interface Seen {
  readonly status: number;
  readonly keepAlive: boolean;
}

function parser(headRequests = false): { p: ResponseParser; seen: Seen[] } {
  const seen: Seen[] = [];
  const p = new ResponseParser({ onResponse: (status, keepAlive) => seen.push({ status, keepAlive }) }, { headRequests });
  return { p, seen };
}

/** feedSplit feeds `text` in pieces cut at `cuts`, each piece inside a larger buffer with garbage after it (as the socket's reused read buffer is). */
function feedSplit(p: ResponseParser, text: string, cuts: readonly number[]): void {
  const bytes = Buffer.from(text, 'latin1');
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const piece = bytes.subarray(from, to);
    const buf = Buffer.alloc(piece.length + 64, 'HTTP/1.1 500 stale\r\n\r\n');
    piece.copy(buf, 3);
    p.execute(buf, 3, 3 + piece.length);
    from = to;
  }
}

const CASES: { name: string; text: string; want: Seen[]; headRequests?: boolean }[] = [
  {
    name: 'Content-Length bodies, two responses back to back',
    text: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhelloHTTP/1.1 404 Not Found\r\ncontent-length:  3 \r\n\r\nnop',
    want: [{ status: 200, keepAlive: true }, { status: 404, keepAlive: true }],
  },
  {
    name: 'chunked body with an extension and trailers',
    text: 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    want: [{ status: 201, keepAlive: true }, { status: 200, keepAlive: true }],
  },
  {
    name: 'Connection: close and HTTP/1.0 close the connection; HTTP/1.0 with keep-alive does not',
    text: 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: Close\r\n\r\nxHTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx',
    want: [{ status: 200, keepAlive: false }, { status: 200, keepAlive: false }, { status: 200, keepAlive: true }],
  },
  {
    name: '100 Continue is skipped; 204 and 304 have no body whatever they announce',
    text: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n',
    want: [{ status: 204, keepAlive: true }, { status: 304, keepAlive: true }],
  },
  {
    name: 'answers to HEAD have no body',
    text: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    want: [{ status: 200, keepAlive: true }, { status: 200, keepAlive: true }],
    headRequests: true,
  },
];

describe('ResponseParser', () => {
  it.each(CASES)('$name: the same answers in one piece, and split at every byte', ({ text, want, headRequests }) => {
    const whole = parser(headRequests);
    feedSplit(whole.p, text, []);
    expect(whole.seen).toEqual(want);
    expect(whole.p.idle).toBe(true);
    for (let cut = 1; cut < text.length; cut++) {
      const split = parser(headRequests);
      feedSplit(split.p, text, [cut]);
      expect(split.seen, `cut at ${cut}`).toEqual(want);
    }
    const bytes = parser(headRequests);
    feedSplit(bytes.p, text, Array.from({ length: text.length - 1 }, (_, i) => i + 1));
    expect(bytes.seen).toEqual(want);
  });

  it('a body without length or chunking runs to the close: finish() completes it with keep-alive off', () => {
    const { p, seen } = parser();
    feedSplit(p, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome bytes', []);
    expect(seen).toEqual([]);
    expect(p.finish()).toBe(false);
    expect(seen).toEqual([{ status: 200, keepAlive: false }]);
  });

  it('a Transfer-Encoding that does not end in chunked also runs to the close', () => {
    const { p, seen } = parser();
    feedSplit(p, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz', []);
    expect(p.finish()).toBe(false);
    expect(seen).toEqual([{ status: 200, keepAlive: false }]);
  });

  it('finish() reports a response cut short by the close, and nothing between responses', () => {
    const cut = parser();
    feedSplit(cut.p, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf', []);
    expect(cut.p.finish()).toBe(true);
    const head = parser();
    feedSplit(head.p, 'HTTP/1.1 200 OK\r\nContent-Len', []);
    expect(head.p.finish()).toBe(true);
    const between = parser();
    feedSplit(between.p, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', []);
    expect(between.p.finish()).toBe(false);
    expect(between.seen).toHaveLength(1);
  });

  it.each([
    ['not HTTP', 'FOO 200 OK\r\n\r\n', /not an HTTP\/1.x status line/],
    ['HTTP/2 status line', 'HTTP/2.0 200 OK\r\n\r\n', /not an HTTP\/1.x status line/],
    ['letters in the status', 'HTTP/1.1 2x0 OK\r\n\r\n', /bad status code/],
    ['a status below 100', 'HTTP/1.1 099 Low\r\n\r\n', /bad status code/],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n', /bad Content-Length/],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', /two different Content-Length/],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size/],
    ['chunk data not followed by CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY', /not followed by CRLF/],
    ['a header line ending in a bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', /bare LF/],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', /101/],
  ])('refuses %s', (_name, text, message) => {
    const { p, seen } = parser();
    expect(() => feedSplit(p, text, [])).toThrow(ResponseParseError);
    expect(() => parser().p.execute(Buffer.from(text, 'latin1'), 0, text.length)).toThrow(message);
    expect(seen).toEqual([]);
  });

  it('refuses a head over 64 KiB even when it comes in small pieces', () => {
    const { p } = parser();
    p.execute(Buffer.from('HTTP/1.1 200 OK\r\n'), 0, 17);
    const line = Buffer.from(`X-Big: ${'a'.repeat(1000)}\r\n`);
    expect(() => {
      for (let i = 0; i < 70; i++) p.execute(line, 0, line.length);
    }).toThrow(/response head over 65536 bytes/);
  });

  it('reads only the bytes it is given, not what lies after them in the buffer', () => {
    const { p, seen } = parser();
    const buf = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 503 Later\r\nContent-Length: 0\r\n\r\n', 'latin1');
    p.execute(buf, 0, buf.indexOf('HTTP/1.1 503'));
    expect(seen).toEqual([{ status: 200, keepAlive: true }]);
    expect(p.idle).toBe(true);
  });
});
