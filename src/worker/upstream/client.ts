/**
 * Flusso's HTTP/1.1 upstream client (docs/upstream-client.md): a keep-alive pool per endpoint
 * of plain `net.Socket`s, the request head written once, responses read into one reused buffer
 * and parsed in place (parser.ts), every timeout on one coarse timer (deadlines.ts).
 *
 * A request is an UpstreamHandler (the proxy's Exchange, or a background cache fill): the pool
 * gives it a connection, the connection writes its head and reports the response back through
 * the handler's methods, synchronously, as the bytes arrive. There is no per-request object
 * besides the handler, no stream and no promise on the path.
 *
 * Rules (RFC 9112 §9, docs/bad-input.md §F):
 * - a connection is reused only when the response was complete, framed by length or chunks,
 *   HTTP/1.1 without `Connection: close`, nothing followed it in the read, and the request body
 *   was sent whole; otherwise it is closed;
 * - a connection whose response failed to parse is closed, never reused;
 * - a request on a reused connection that the upstream closed before any response byte is sent
 *   once more on a new connection when the handler says it may be (idempotent, no body): the
 *   upstream may have closed the idle connection just as we wrote to it;
 * - bytes arriving on an idle connection close it.
 */
import net from 'node:net';
import { Deadlines, tickFor, type Expiring } from './deadlines.js';
import { BodyMode, DEFAULT_MAX_HEAD_BYTES, ResponseParser, type ParserSink, type ResponseHead } from './parser.js';

/** UpstreamFailure names what went wrong with an upstream request. */
export type UpstreamFailure =
  /** No connection: refused, unreachable, or the connect failed (nothing was sent). */
  | 'connect'
  /** The connect did not finish within the connect timeout (nothing was sent). */
  | 'connect-timeout'
  /** No response head within the response timeout after the request was sent. */
  | 'response-timeout'
  /** Nothing read (or a write stuck) for the idle timeout. */
  | 'idle-timeout'
  /** The upstream closed or reset the connection before the response was complete. */
  | 'closed'
  /** The response could not be read (parser.ts says why). */
  | 'protocol'
  /** Every connection of the endpoint was busy, and the queue full or its wait over. */
  | 'saturated'
  /** The endpoint's pool was closed (the endpoint left the snapshot) before the request started. */
  | 'pool-closed';

/** UpstreamError is the error a handler receives: what failed, and whether the head had arrived. */
export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;
  /** The response head had been delivered (so only cutting the client is left). */
  readonly afterHead: boolean;
  /** The system error code, when there is one (ECONNREFUSED, ECONNRESET, ...). */
  readonly code: string;

  constructor(failure: UpstreamFailure, message: string, afterHead: boolean, code = '') {
    super(message);
    this.name = 'UpstreamError';
    this.failure = failure;
    this.afterHead = afterHead;
    this.code = code;
  }
}

/** BodyFraming says how a request body goes upstream. */
export const enum BodyFraming {
  None = 0,
  /** The head carries Content-Length; the bytes go as they come. */
  Length = 1,
  /** Transfer-Encoding: chunked; each write becomes a chunk. */
  Chunked = 2,
}

/**
 * UpstreamHandler is one upstream request. The connection calls it synchronously; none of
 * its methods may throw (they catch their own errors).
 */
export interface UpstreamHandler {
  /** The whole request head (`METHOD target HTTP/1.1\r\n` fields `\r\n`), written as Latin-1. */
  readonly requestHead: string;
  /** The request is HEAD: the response has no body, whatever its fields say. */
  readonly headRequest: boolean;
  /** The request may be sent again when a reused connection was closed before any response byte. */
  readonly retryable: boolean;
  readonly bodyFraming: BodyFraming;
  /**
   * The request body is still arriving when a connection is asked for: the request counts
   * against the endpoint's share of connections for streaming bodies until its body ended
   * (`maxStreamingConnections`), so slow uploads cannot hold every connection (issue 14 item 3).
   */
  readonly streamingBody?: boolean;
  /** The request's own timeouts (a route's proxy-*-timeout annotations; one object per route); absent or null: the client's. */
  readonly timeouts?: RequestTimeouts | null;
  /** onUpstreamStart: a connection took the request and wrote its head; body writes may follow. */
  onUpstreamStart(conn: UpstreamConnection): void;
  /** upstreamRead runs `run` (which delivers what one read brought); the proxy runs it inside res.cork. */
  upstreamRead(run: () => void): void;
  /** onUpstreamHead sees the final response head (1xx heads are absorbed); valid only during the call. */
  onUpstreamHead(head: ResponseHead): void;
  /** onUpstreamBody sees body bytes, valid only during the call; false: stop reading until conn.resume(). */
  onUpstreamBody(buf: Buffer, start: number, end: number): boolean;
  /** onUpstreamEnd: the response is complete (the connection is no longer the handler's). */
  onUpstreamEnd(): void;
  /** onUpstreamError: the request failed (the connection is no longer the handler's). */
  onUpstreamError(err: UpstreamError): void;
  /** onUpstreamDrain: a request body write that returned false has drained. */
  onUpstreamDrain(): void;
}

/**
 * UpstreamTimeouts are the deadlines of one request's connection (a route's ingress-nginx
 * proxy-connect-timeout, proxy-send-timeout, proxy-read-timeout; worker/proxy/upstream-policy.ts).
 */
export interface UpstreamTimeouts {
  readonly connectMs: number;
  /** From the request's last byte to the response head (nginx proxy_read_timeout before the head). */
  readonly responseMs: number;
  /** Between two reads of the response (nginx proxy_read_timeout). */
  readonly readMs: number;
  /** How long a request body write may stall (nginx proxy_send_timeout). */
  readonly sendMs: number;
}

/** RequestTimeouts are a request's own timeouts; a field absent: the client's. */
export interface RequestTimeouts {
  readonly connectMs?: number;
  /** The response head's wait and the wait between two reads (nginx proxy_read_timeout). */
  readonly readMs?: number;
  /** nginx proxy_send_timeout. */
  readonly sendMs?: number;
}

/** UpstreamSettings shape every pool of a client. */
export interface UpstreamSettings {
  readonly connectTimeoutMs: number;
  /** From the request's last byte to the response head. */
  readonly responseTimeoutMs: number;
  /** Between two reads of a response (and a stuck request body write). */
  readonly idleTimeoutMs: number;
  /** How long an idle keep-alive connection is kept. */
  readonly keepAliveTimeoutMs: number;
  /** Connections per endpoint (busy, connecting and idle). */
  readonly maxConnections: number;
  /** Requests that may wait for a connection per endpoint; more get 'saturated'. */
  readonly maxQueue?: number;
  /**
   * Connections per endpoint that requests whose body is still arriving may hold (default: half
   * of maxConnections, at least 1); more such requests wait, as for a full pool, while the other
   * requests keep the rest.
   */
  readonly maxStreamingConnections?: number;
  readonly maxHeadBytes?: number;
}

/** READ_BUFFER_BYTES is the size of the one buffer every upstream read of a worker lands in. */
const READ_BUFFER_BYTES = 64 * 1024;

const DEFAULT_MAX_QUEUE = 1024;

/**
 * BODY_QUEUE_WAIT_MS bounds the wait of a request whose body is still arriving for the
 * endpoint's streaming share. Longer than the connect timeout a bodiless request waits: such a
 * request holds only its buffered bytes (the client is paused past them), and the shares free
 * as uploads end, within the client body timeout (default 60 s) of their last bytes.
 */
const BODY_QUEUE_WAIT_MS = 60_000;

// Connection phases.
const P_CONNECTING = 0;
const P_OPEN = 1;
const P_CLOSED = 2;

// What the connection's deadline means.
const D_NONE = 0;
const D_CONNECT = 1;
const D_RESPONSE = 2;
const D_IDLE = 3;
const D_KEEPALIVE = 4;

/**
 * UpstreamClient owns what the pools of a worker share: the settings, the coarse timer and the
 * read buffer (reads are handled synchronously one at a time, so one buffer serves them all).
 */
export class UpstreamClient {
  readonly settings: Required<UpstreamSettings>;
  readonly deadlines: Deadlines;
  readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  /** The settings' timeouts, for requests without their own. */
  readonly timeouts: UpstreamTimeouts;
  readonly #merged = new WeakMap<RequestTimeouts, UpstreamTimeouts>();

  constructor(settings: UpstreamSettings) {
    for (const [name, v] of Object.entries(settings)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`upstream setting ${name} must be a positive number, got ${String(v)}`);
    }
    this.settings = Object.freeze({ maxQueue: DEFAULT_MAX_QUEUE, maxHeadBytes: DEFAULT_MAX_HEAD_BYTES, maxStreamingConnections: Math.max(1, Math.floor(settings.maxConnections / 2)), ...settings });
    const s = this.settings;
    this.timeouts = Object.freeze({ connectMs: s.connectTimeoutMs, responseMs: s.responseTimeoutMs, readMs: s.idleTimeoutMs, sendMs: s.idleTimeoutMs });
    this.deadlines = new Deadlines(tickFor(Math.min(s.connectTimeoutMs, s.responseTimeoutMs, s.idleTimeoutMs, s.keepAliveTimeoutMs)));
  }

  /** timeoutsOf returns a request's own timeouts over the client's (built once per RequestTimeouts object). */
  timeoutsOf(own: RequestTimeouts): UpstreamTimeouts {
    let t = this.#merged.get(own);
    if (t === undefined) {
      const d = this.timeouts;
      t = Object.freeze({ connectMs: own.connectMs ?? d.connectMs, responseMs: own.readMs ?? d.responseMs, readMs: own.readMs ?? d.readMs, sendMs: own.sendMs ?? d.sendMs });
      this.#merged.set(own, t);
    }
    return t;
  }

  /** pool creates the keep-alive pool of one endpoint. */
  pool(address: string, port: number): EndpointPool {
    return new EndpointPool(this, address, port);
  }
}

/** Waiter is a request queued for a connection of a full pool. */
class Waiter implements Expiring {
  deadlineAt = 0;
  deadlineIndex = -1;
  readonly handler: UpstreamHandler;
  readonly #pool: EndpointPool;

  constructor(handler: UpstreamHandler, pool: EndpointPool) {
    this.handler = handler;
    this.#pool = pool;
  }

  onDeadline(): void {
    this.#pool.expireWaiter(this);
  }
}

/** PoolStats is what a pool holds right now. */
export interface PoolStats {
  readonly connections: number;
  readonly idle: number;
  readonly queued: number;
}

/** EndpointPool is the keep-alive pool of one endpoint (`address:port`). */
export class EndpointPool {
  readonly address: string;
  readonly port: number;
  readonly client: UpstreamClient;
  /** Idle connections, most recently used last (LIFO: warm connections stay warm, cold ones expire). */
  readonly #idle: UpstreamConnection[] = [];
  readonly #queue: Waiter[] = [];
  /** Requests with a body still arriving that wait for a streaming share (they bypass nothing else). */
  readonly #bodyQueue: Waiter[] = [];
  /** Connections carrying a request whose body is still arriving. */
  #streaming = 0;
  #total = 0;
  #closed = false;
  #closeWaiters: (() => void)[] = [];

  constructor(client: UpstreamClient, address: string, port: number) {
    this.client = client;
    this.address = address;
    this.port = port;
  }

  /** stats says how many connections (busy or idle) and queued requests the pool has. */
  stats(): PoolStats {
    return { connections: this.#total, idle: this.#idle.length, queued: this.#queue.length + this.#bodyQueue.length };
  }

  /**
   * request sends `h` on an idle connection, a new one, or queues it. The handler may be
   * called back before this returns (a failure or even a whole response never is: those need
   * a read, but onUpstreamStart is).
   */
  request(h: UpstreamHandler): void {
    if (this.#closed) {
      h.onUpstreamError(new UpstreamError('pool-closed', 'the endpoint left the routing table', false));
      return;
    }
    if (h.streamingBody === true && this.#streaming >= this.client.settings.maxStreamingConnections) {
      this.#enqueue(this.#bodyQueue, h, BODY_QUEUE_WAIT_MS);
      return;
    }
    const idle = this.#idle;
    while (idle.length > 0) {
      const conn = idle.pop() as UpstreamConnection;
      if (conn.assign(h)) return;
    }
    if (this.#total < this.client.settings.maxConnections) {
      this.#open(h);
      return;
    }
    this.#enqueue(this.#queue, h, this.client.settings.connectTimeoutMs);
  }

  /** #enqueue queues `h` for at most `waitMs`; 'saturated' when that queue is full. */
  #enqueue(q: Waiter[], h: UpstreamHandler, waitMs: number): void {
    if (q.length >= this.client.settings.maxQueue) {
      h.onUpstreamError(new UpstreamError('saturated', 'every upstream connection is busy and the queue is full', false));
      return;
    }
    const w = new Waiter(h, this);
    q.push(w);
    this.client.deadlines.arm(w, waitMs);
  }

  /** cancel withdraws a queued request (its client left). */
  cancel(h: UpstreamHandler): void {
    for (const q of [this.#queue, this.#bodyQueue]) {
      for (let i = 0; i < q.length; i++) {
        const w = q[i] as Waiter;
        if (w.handler === h) {
          q.splice(i, 1);
          this.client.deadlines.disarm(w);
          return;
        }
      }
    }
  }

  /** streamStarted counts a connection that took a request whose body is still arriving. */
  streamStarted(): void {
    this.#streaming++;
  }

  /** streamEnded: that body ended (or the request did); a request waiting for a streaming share may go. */
  streamEnded(): void {
    this.#streaming--;
    const w = this.#bodyQueue.shift();
    if (w === undefined) return;
    this.client.deadlines.disarm(w);
    this.request(w.handler);
  }

  /** retry sends `h` again on a new connection (its reused one was closed under it). */
  retry(h: UpstreamHandler): void {
    if (this.#closed) {
      h.onUpstreamError(new UpstreamError('pool-closed', 'the endpoint left the routing table', false));
      return;
    }
    this.#open(h);
  }

  /**
   * close stops new requests, closes the idle connections and fails queued requests; busy
   * connections finish their response and close then. Resolves when none is left.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.destroy();
    for (const w of [...this.#queue.splice(0), ...this.#bodyQueue.splice(0)]) {
      this.client.deadlines.disarm(w);
      w.handler.onUpstreamError(new UpstreamError('pool-closed', 'the endpoint left the routing table', false));
    }
    if (this.#total === 0) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  /** expireWaiter fails a request that waited too long for a connection. */
  expireWaiter(w: Waiter): void {
    let i = this.#queue.indexOf(w);
    if (i >= 0) this.#queue.splice(i, 1);
    else {
      i = this.#bodyQueue.indexOf(w);
      if (i < 0) return;
      this.#bodyQueue.splice(i, 1);
    }
    w.handler.onUpstreamError(new UpstreamError('saturated', 'no upstream connection became free in time', false));
  }

  /** release takes back a connection whose response completed and that may be reused. */
  release(conn: UpstreamConnection): void {
    if (this.#closed) {
      conn.destroy();
      return;
    }
    const w = this.#queue.shift();
    if (w !== undefined) {
      this.client.deadlines.disarm(w);
      if (conn.assign(w.handler)) return;
      this.#queue.unshift(w); // cannot happen (the connection was just usable); keep the order anyway
      return;
    }
    conn.idle();
    this.#idle.push(conn);
  }

  /** removed forgets a connection that closed; a queued request may get a new one. */
  removed(conn: UpstreamConnection): void {
    this.#total--;
    const i = this.#idle.lastIndexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    if (this.#queue.length > 0 && !this.#closed && this.#total < this.client.settings.maxConnections) {
      const w = this.#queue.shift() as Waiter;
      this.client.deadlines.disarm(w);
      this.#open(w.handler);
    }
    if (this.#closed && this.#total === 0) for (const resolve of this.#closeWaiters.splice(0)) resolve();
  }

  #open(h: UpstreamHandler): void {
    this.#total++;
    const conn = new UpstreamConnection(this);
    conn.assign(h);
  }
}

/** UpstreamConnection is one keep-alive connection to an endpoint, and the request it carries. */
export class UpstreamConnection implements Expiring, ParserSink {
  deadlineAt = 0;
  deadlineIndex = -1;
  readonly #pool: EndpointPool;
  readonly #deadlines: Deadlines;
  readonly #settings: Required<UpstreamSettings>;
  /** The current request's timeouts (the client's, or the request's own). */
  #t: UpstreamTimeouts;
  readonly #socket: net.Socket;
  readonly #parser: ResponseParser;
  #phase = P_CONNECTING;
  #deadline = D_NONE;

  #handler: UpstreamHandler | null = null;
  /** Requests this connection carried, the current one included (more than 1: reused). */
  #requests = 0;
  /** A byte of the current response arrived. */
  #received = false;
  #headSeen = false;
  #bodyDone = true;
  #chunked = false;
  #paused = false;
  #sendBlocked = false;
  /** The current request's body is still arriving and counts in the pool's streaming share. */
  #streamingBody = false;

  // The read being delivered (see #run).
  #readBuf: Buffer = Buffer.alloc(0);
  #readLen = 0;

  constructor(pool: EndpointPool) {
    this.#pool = pool;
    this.#deadlines = pool.client.deadlines;
    this.#settings = pool.client.settings;
    this.#t = pool.client.timeouts;
    this.#parser = new ResponseParser(this, this.#settings.maxHeadBytes);
    const socket = net.connect({
      host: pool.address,
      port: pool.port,
      noDelay: true,
      onread: { buffer: pool.client.readBuffer, callback: this.#onRead },
    });
    this.#socket = socket;
    socket.on('connect', this.#onConnect);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
    this.#arm(D_CONNECT, this.#t.connectMs);
  }

  /** reused says this connection carried a request before the current one. */
  get reused(): boolean {
    return this.#requests > 1;
  }

  /**
   * assign writes `h`'s head and makes it the connection's request. False when the
   * connection is closed (an idle one the upstream closed a moment ago).
   */
  assign(h: UpstreamHandler): boolean {
    if (this.#phase === P_CLOSED || this.#socket.destroyed) return false;
    this.#handler = h;
    this.#requests++;
    this.#received = false;
    this.#headSeen = false;
    this.#paused = false;
    this.#sendBlocked = false;
    this.#chunked = h.bodyFraming === BodyFraming.Chunked;
    this.#bodyDone = h.bodyFraming === BodyFraming.None;
    this.#parser.reset(h.headRequest);
    const own = h.timeouts;
    const t = own === undefined || own === null ? this.#pool.client.timeouts : this.#pool.client.timeoutsOf(own);
    if (t !== this.#t) {
      this.#t = t;
      // A new connection's connect deadline was armed with the client's timeout.
      if (this.#phase === P_CONNECTING) this.#arm(D_CONNECT, t.connectMs);
    }
    if (h.streamingBody === true && !this.#bodyDone) {
      this.#streamingBody = true;
      this.#pool.streamStarted();
    }
    // Node queues writes on a connecting socket and sends them on connect.
    this.#socket.write(h.requestHead, 'latin1');
    if (this.#phase === P_OPEN) {
      if (this.#bodyDone) this.#arm(D_RESPONSE, this.#t.responseMs);
      else this.#disarm();
    }
    h.onUpstreamStart(this);
    return true;
  }

  /** writeBody sends request body bytes (as a chunk when chunked); false: wait for onUpstreamDrain. */
  writeBody(chunk: Buffer): boolean {
    if (this.#handler === null || this.#bodyDone || chunk.length === 0) return true;
    const s = this.#socket;
    let ok: boolean;
    if (this.#chunked) {
      s.cork();
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else ok = s.write(chunk);
    if (!ok && !this.#headSeen) {
      // The upstream does not take the body: bound the wait as nginx's proxy_send_timeout does.
      this.#sendBlocked = true;
      this.#arm(D_IDLE, this.#t.sendMs);
    }
    return ok;
  }

  /** endBody ends the request body; the response timeout runs from here. */
  endBody(): void {
    if (this.#handler === null || this.#bodyDone) return;
    this.#bodyDone = true;
    this.#endStreaming();
    if (this.#chunked) this.#socket.write('0\r\n\r\n', 'latin1');
    if (!this.#headSeen && this.#phase === P_OPEN && !this.#sendBlocked) this.#arm(D_RESPONSE, this.#t.responseMs);
  }

  /** resume reads again after onUpstreamBody returned false. */
  resume(): void {
    if (!this.#paused || this.#handler === null) return;
    this.#paused = false;
    this.#arm(D_IDLE, this.#t.readMs);
    this.#socket.resume();
  }

  /** abort drops the current request: the connection is closed (the upstream sees it go). */
  abort(): void {
    if (this.#handler === null) return;
    this.#handler = null;
    this.#parser.stop();
    this.destroy();
  }

  /** idle parks the connection in its pool, expiring after the keep-alive timeout. */
  idle(): void {
    this.#arm(D_KEEPALIVE, this.#settings.keepAliveTimeoutMs);
  }

  /** destroy closes the connection and tells the pool (once). */
  destroy(): void {
    if (this.#phase === P_CLOSED) return;
    this.#phase = P_CLOSED;
    this.#endStreaming();
    this.#disarm();
    this.#socket.destroy();
    this.#pool.removed(this);
  }

  onDeadline(): void {
    const kind = this.#deadline;
    this.#deadline = D_NONE;
    switch (kind) {
      case D_CONNECT:
        this.#fail('connect-timeout', 'connecting to the upstream timed out');
        return;
      case D_RESPONSE:
        this.#fail('response-timeout', 'the upstream sent no response head in time');
        return;
      case D_IDLE:
        this.#fail('idle-timeout', this.#headSeen ? 'the upstream response stalled' : 'the upstream stopped reading the request body');
        return;
      case D_KEEPALIVE:
        this.destroy();
        return;
    }
  }

  // --- ParserSink ------------------------------------------------------------------------

  onHead(head: ResponseHead): void {
    this.#headSeen = true;
    this.#sendBlocked = false;
    if (head.bodyMode !== BodyMode.None) this.#arm(D_IDLE, this.#t.readMs);
    else this.#disarm();
    (this.#handler as UpstreamHandler).onUpstreamHead(head);
  }

  onBody(buf: Buffer, start: number, end: number): void {
    const h = this.#handler;
    if (h !== null && !h.onUpstreamBody(buf, start, end) && !this.#paused && this.#handler === h) {
      this.#paused = true;
      this.#disarm();
    }
  }

  // --- socket events -----------------------------------------------------------------------

  readonly #onConnect = (): void => {
    if (this.#phase !== P_CONNECTING) return;
    this.#phase = P_OPEN;
    if (this.#handler === null) this.#disarm();
    else if (this.#bodyDone) this.#arm(D_RESPONSE, this.#t.responseMs);
    else this.#disarm();
  };

  readonly #onRead = (n: number, buf: Buffer): boolean => {
    const h = this.#handler;
    if (h === null) {
      // Bytes on an idle connection belong to no request (a HEAD answered with a body, or worse).
      this.destroy();
      return false;
    }
    this.#received = true;
    if (this.#deadline === D_IDLE) this.#arm(D_IDLE, this.#t.readMs);
    this.#readBuf = buf;
    this.#readLen = n;
    h.upstreamRead(this.#run);
    return !this.#paused && this.#phase !== P_CLOSED;
  };

  /** #run delivers the current read (inside the handler's upstreamRead, e.g. corked). */
  readonly #run = (): void => {
    const h = this.#handler;
    if (h === null) return;
    const parser = this.#parser;
    const err = parser.execute(this.#readBuf, 0, this.#readLen);
    if (this.#handler !== h) return; // aborted during a callback
    if (err !== 0) {
      this.#fail('protocol', `invalid upstream response: ${parser.errorText}`);
      return;
    }
    if (parser.done) this.#complete(h);
  };

  #complete(h: UpstreamHandler): void {
    const parser = this.#parser;
    const head = parser.head;
    const reusable =
      this.#bodyDone && !parser.leftover && !parser.framingIgnored && !head.close && head.minor === 1 && head.bodyMode !== BodyMode.Close && this.#phase === P_OPEN;
    this.#handler = null;
    this.#endStreaming();
    this.#disarm();
    if (this.#paused) {
      this.#paused = false; // the onread return value keeps the socket reading
      this.#socket.resume();
    }
    h.onUpstreamEnd();
    if (reusable && this.#phase === P_OPEN) this.#pool.release(this);
    else this.destroy();
  }

  readonly #onEnd = (): void => {
    const h = this.#handler;
    if (h === null) {
      this.destroy();
      return;
    }
    if (this.#parser.finish()) {
      // A read-until-close body ends here.
      h.upstreamRead(this.#runEof);
      return;
    }
    this.#fail('closed', this.#received ? 'the upstream closed the connection before the response was complete' : 'the upstream closed the connection before responding');
  };

  readonly #runEof = (): void => {
    const h = this.#handler;
    if (h !== null) this.#complete(h);
  };

  readonly #onError = (err: NodeJS.ErrnoException): void => {
    const code = err.code ?? '';
    if (this.#phase === P_CONNECTING) this.#fail('connect', `cannot connect to the upstream: ${code || err.message}`, code);
    else this.#fail('closed', `upstream connection failed: ${code || err.message}`, code);
  };

  readonly #onClose = (): void => {
    if (this.#handler !== null) this.#fail('closed', 'the upstream connection closed');
    else this.destroy();
  };

  readonly #onDrain = (): void => {
    const h = this.#handler;
    if (h === null) return;
    if (this.#sendBlocked) {
      this.#sendBlocked = false;
      if (!this.#headSeen) {
        if (this.#bodyDone) this.#arm(D_RESPONSE, this.#t.responseMs);
        else this.#disarm();
      }
    }
    h.onUpstreamDrain();
  };

  /**
   * #fail ends the current request with `failure`: the connection is closed, and the request
   * sent once more on a new connection when a reused one was closed before any response byte.
   */
  #fail(failure: UpstreamFailure, message: string, code = ''): void {
    const h = this.#handler;
    const afterHead = this.#headSeen;
    const retry = h !== null && failure === 'closed' && !this.#received && this.#requests > 1 && h.retryable;
    this.#handler = null;
    this.#parser.stop();
    this.destroy();
    if (h === null) return;
    if (retry) this.#pool.retry(h);
    else h.onUpstreamError(new UpstreamError(failure, message, afterHead, code));
  }

  /** #endStreaming gives back the streaming share (once per request). */
  #endStreaming(): void {
    if (!this.#streamingBody) return;
    this.#streamingBody = false;
    this.#pool.streamEnded();
  }

  #arm(kind: number, ms: number): void {
    this.#deadline = kind;
    this.#deadlines.arm(this, ms);
  }

  #disarm(): void {
    this.#deadline = D_NONE;
    this.#deadlines.disarm(this);
  }
}
