/**
 * ResponseWriter against a fake uWS response: the head, known-length bodies with backpressure
 * (tryEnd, the unsent rest kept as a copy, onWritable), chunked bodies, bodiless endings, the
 * failure answer and the cut.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { describe, expect, it } from 'vitest';
import { ResponseWriter, markClientClose } from '../../../../src/worker/proxy/response-writer.js';

/** FakeRes records what is written; `capacity` bytes of body are accepted before backpressure. */
class FakeRes {
  wire = '';
  offset = 0;
  capacity = Number.POSITIVE_INFINITY;
  ended = false;
  closed = false;
  writable: ((offset: number) => boolean) | null = null;
  writeStatus(s: string) { this.wire += `${s}|`; return this; }
  writeHeader(n: string, v: string) { this.wire += `${n}: ${v}|`; return this; }
  cork(fn: () => void) { fn(); return this; }
  getWriteOffset() { return this.offset; }
  tryEnd(data: Uint8Array, total: number): [boolean, boolean] {
    const take = Math.min(data.length, this.capacity);
    this.capacity -= take;
    this.wire += Buffer.from(data.subarray(0, take)).toString('latin1');
    this.offset += take;
    const done = this.offset === total;
    if (done) this.ended = true;
    return [take === data.length, done];
  }
  write(data: Uint8Array) { this.wire += `[${Buffer.from(data).toString('latin1')}]`; return this.capacity > 0; }
  end(body = '', close = false) { this.wire += `${String(body)}<end${close ? ' close' : ''}>`; this.ended = true; return this; }
  endWithoutBody(n?: number) { this.wire += `<bodiless ${n ?? '-'}>`; this.ended = true; return this; }
  onWritable(fn: (offset: number) => boolean) { this.writable = fn; return this; }
  close() { this.closed = true; return this; }
}

function writer(ctx = { serverHeader: 'flusso', hsts: null as string | null, draining: false }) {
  const res = new FakeRes();
  const events = { done: 0, writable: 0 };
  const w = new ResponseWriter(res as unknown as HttpResponse, ctx, { onResponseDone: () => events.done++, onResponseWritable: () => events.writable++ });
  return { res, w, events };
}

describe('ResponseWriter', () => {
  it('writes the head with its own fields, then a known-length body that completes on its last byte', () => {
    const { res, w, events } = writer({ serverHeader: 'flusso', hsts: 'max-age=1', draining: false });
    w.head(200, null, 'MISS', 5);
    expect(w.body(Buffer.from('xxhelloyy'), 2, 7)).toBe(true);
    expect(res.wire).toBe('200 OK|X-Cache-Status: MISS|Server: flusso|Strict-Transport-Security: max-age=1|hello');
    expect([w.done, events.done, w.bytesOut, w.status]).toEqual([true, 1, 5, 200]);
  });

  it('keeps a copy of what uWS did not take, and finishes it from onWritable', () => {
    const { res, w, events } = writer();
    w.head(200, null, null, 10);
    res.capacity = 3;
    const buf = Buffer.from('0123456789');
    expect(w.body(buf, 0, 6)).toBe(false);
    buf.fill(0x3f); // the read buffer is reused: the writer must not keep views of it
    expect(w.blocked).toBe(true);
    expect(w.body(Buffer.from('6789'), 0, 4)).toBe(false); // queued behind the rest
    res.capacity = Number.POSITIVE_INFINITY;
    expect(res.writable?.(res.offset)).toBe(true);
    expect(res.wire.endsWith('0123456789')).toBe(true);
    expect([w.done, events.done]).toEqual([true, 1]);
  });

  it('chunked: write, and end() sends the last chunk', () => {
    const { res, w } = writer();
    w.head(200, null, null, -1);
    w.body(Buffer.from('ab'), 0, 2);
    w.end();
    expect(res.wire).toBe('200 OK|Server: flusso|[ab]<end>');
    expect(w.done).toBe(true);
  });

  it('bodiless: the reported length, none for 204; an empty body ends with its Content-Length 0', () => {
    const head = writer();
    head.w.head(200, null, null, 0);
    head.w.bodiless(1234);
    expect(head.res.wire.endsWith('<bodiless 1234>')).toBe(true);
    const noContent = writer();
    noContent.w.head(204, null, null, 0);
    noContent.w.bodiless(-1);
    expect(noContent.res.wire.endsWith('<bodiless ->')).toBe(true);
    const empty = writer();
    empty.w.head(200, null, null, 0);
    empty.w.end();
    expect(empty.res.wire.endsWith('<end>')).toBe(true);
  });

  it('the failure answer: status, text, X-Cache-Status, Connection: close when the client asked', () => {
    const { res, w } = writer();
    markClientClose(res as unknown as HttpResponse);
    w.fail('upstream-timeout', 'MISS');
    expect(res.wire).toBe('504 Gateway Timeout|Content-Type: text/plain; charset=utf-8|X-Cache-Status: MISS|Server: flusso\r\nConnection: close|504 Gateway Timeout\n<end>');
    expect([w.status, w.bytesOut, w.done]).toEqual([504, 20, true]);
  });

  it('a draining worker closes after a whole body sent at once', () => {
    const { res, w } = writer({ serverHeader: 'flusso', hsts: null, draining: true });
    w.head(200, null, null, 2);
    w.body(Buffer.from('ok'), 0, 2);
    expect(res.wire.endsWith('ok<end close>')).toBe(true);
  });

  it('cut closes the connection once and nothing is written after', () => {
    const { res, w, events } = writer();
    w.head(200, null, null, 10);
    w.cut();
    w.cut();
    expect(w.body(Buffer.from('x'), 0, 1)).toBe(true);
    expect([res.closed, events.done, w.open]).toEqual([true, 1, false]);
  });
});
