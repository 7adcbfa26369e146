import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { addressBytes, NodeRequest, NodeResponse, type NodeReq, type NodeRes } from '../../../../src/worker/proxy/node-response.js';
import { formatAddress } from '../../../../src/worker/proxy/address.js';

/** FakeRes records what the adapter asks of node's response; write() reports backpressure as told. */
class FakeRes extends EventEmitter {
  head: { status: number; reason: string; headers: Record<string, string | string[]> } | null = null;
  body: Buffer[] = [];
  ended = false;
  full = false;
  shouldKeepAlive = true;
  writeHead(status: number, a: unknown, b?: unknown): this {
    const [reason, headers] = typeof a === 'string' ? [a, b] : ['', a];
    this.head = { status, reason, headers: headers as Record<string, string | string[]> };
    return this;
  }
  write(chunk: Buffer): boolean {
    this.body.push(chunk);
    return !this.full;
  }
  end(chunk?: Buffer): this {
    if (chunk !== undefined) this.body.push(chunk);
    this.ended = true;
    return this;
  }
}

function pair(version: 1 | 2, rawHeaders: string[] = [], extra: Record<string, unknown> = {}): { req: NodeReq; res: FakeRes; nres: NodeResponse } {
  const req = Object.assign(new EventEmitter(), { httpVersionMajor: version, rawHeaders, url: '/p?q=1', method: 'GET', headers: {}, socket: { remoteAddress: '::ffff:10.1.2.3' }, ...extra }) as unknown as NodeReq;
  const res = new FakeRes();
  return { req, res, nres: new NodeResponse(req, res as unknown as NodeRes) };
}

// Issue 12: the request path writes to node's HTTP/1.x and HTTP/2 responses through this adapter (docs/http2.md).
describe('NodeResponse', () => {
  it('splits the `\\r\\nName: value` runs uWS writes verbatim, and writes the head once with the body', () => {
    const { res, nres } = pair(1);
    nres.writeStatus('201 Created').writeHeader('Age', '3\r\nX-Cache-Status: HIT\r\nServer: flusso').writeHeader(Buffer.from('X-Bin'), Buffer.from('v\xe9', 'latin1'));
    expect(res.head).toBeNull();
    expect(nres.tryEnd(Buffer.from('hello'), 5)).toEqual([true, true]);
    expect(res.head).toEqual({ status: 201, reason: 'Created', headers: { Age: '3', 'X-Cache-Status': 'HIT', Server: 'flusso', 'X-Bin': 'v\xe9', 'content-length': '5' } });
    expect(Buffer.concat(res.body).toString()).toBe('hello');
    expect(res.ended).toBe(true);
  });

  it('drops the connection-specific fields HTTP/2 forbids, lower-cases names, and keeps repeated fields', () => {
    const { res, nres } = pair(2);
    nres.writeStatus('200 OK').writeHeader('Connection', 'keep-alive').writeHeader('Set-Cookie', 'a=1').writeHeader('Set-Cookie', 'b=2').writeHeader('Server', 'flusso\r\nConnection: close').writeHeader('Transfer-Encoding', 'chunked').writeHeader('Keep-Alive', 'timeout=5');
    nres.end('ok');
    expect(res.head?.headers).toEqual({ 'set-cookie': ['a=1', 'b=2'], server: 'flusso', 'content-length': '2' });
  });

  it('closes an HTTP/1.1 connection when the fields say Connection: close', () => {
    const { res, nres } = pair(1);
    nres.writeStatus('200 OK').writeHeader('Server', 'flusso\r\nConnection: close').end('x');
    expect(res.shouldKeepAlive).toBe(false);
    expect(res.head?.headers.Connection).toBe('close');
  });

  it('reports backpressure from tryEnd, copies what it wrote, and calls onWritable on drain with the offset', () => {
    const { res, nres } = pair(1);
    nres.writeStatus('200 OK');
    res.full = true;
    const piece = Buffer.from('abcd');
    expect(nres.tryEnd(piece, 10)).toEqual([false, false]);
    piece.fill(0); // the caller reuses its buffer: what was written must not change
    expect(res.body[0]?.toString()).toBe('abcd');
    const offsets: number[] = [];
    nres.onWritable((offset) => {
      offsets.push(offset);
      return true;
    });
    res.emit('drain');
    expect(offsets).toEqual([4]);
    expect(nres.getWriteOffset()).toBe(4);
  });

  it('writes no Content-Length for a chunked body, and the reported one for a bodiless answer', () => {
    const a = pair(1);
    a.nres.writeStatus('200 OK');
    a.nres.write(Buffer.from('x'));
    a.nres.end();
    expect(a.res.head?.headers['content-length']).toBeUndefined();
    const b = pair(1);
    b.nres.writeStatus('200 OK').endWithoutBody(42);
    expect(b.res.head?.headers['content-length']).toBe('42');
    expect(b.res.body).toEqual([]);
  });

  it('runs onAborted once when the client goes away before the end, never after it', () => {
    const a = pair(1);
    let aborted = 0;
    a.nres.onAborted(() => aborted++);
    a.res.emit('close');
    a.res.emit('close');
    expect(aborted).toBe(1);
    const b = pair(1);
    b.nres.onAborted(() => aborted++);
    b.nres.writeStatus('200 OK').end('done');
    b.res.emit('close');
    expect(aborted).toBe(1);
  });

  it('gives the peer address in uWS\'s binary form', () => {
    const { nres } = pair(1);
    expect(formatAddress(nres.getRemoteAddress())).toBe('10.1.2.3');
    expect(formatAddress(addressBytes('2001:db8::1'))).toBe('2001:db8::1');
    expect(formatAddress(addressBytes('127.0.0.1'))).toBe('127.0.0.1');
    expect(nres.getProxiedRemoteAddress().byteLength).toBe(0);
  });
});

describe('NodeRequest', () => {
  it('visits HTTP/1 fields lower-cased and splits the target', () => {
    const { req } = pair(1, ['Host', 'a.test', 'X-Thing', '1', 'x-thing', '2']);
    const seen: [string, string][] = [];
    const r = new NodeRequest(req);
    r.forEach((k, v) => seen.push([k, v]));
    expect(seen).toEqual([['host', 'a.test'], ['x-thing', '1'], ['x-thing', '2']]);
    expect([r.getUrl(), r.getQuery(), r.getCaseSensitiveMethod(), r.getHeader('x-thing')]).toEqual(['/p', 'q=1', 'GET', '1']);
  });

  it('turns HTTP/2 :authority into Host, skips pseudo-fields, and presents a body without length as chunked', () => {
    const stream = { endAfterHeaders: false, readableEnded: false };
    const { req } = pair(2, [':method', 'POST', ':authority', 'h.test', ':path', '/p', 'content-type', 'x'], { headers: { ':authority': 'h.test' }, stream });
    const seen: [string, string][] = [];
    new NodeRequest(req).forEach((k, v) => seen.push([k, v]));
    expect(seen).toEqual([['content-type', 'x'], ['host', 'h.test'], ['transfer-encoding', 'chunked']]);
    stream.endAfterHeaders = true;
    const none: string[] = [];
    new NodeRequest(req).forEach((k) => none.push(k));
    expect(none).toEqual(['content-type', 'host']);
  });
});
