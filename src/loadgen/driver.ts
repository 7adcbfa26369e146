/**
 * LoadDriver runs one thread's share of a `flusso bench` run: its connections (raw node:net
 * sockets, HTTP/1.1 keep-alive, one request in flight each), the request budget and deadline,
 * the constant-rate schedule, timeouts, and the counters and latency histograms the main
 * thread reads (docs/load-testing.md).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { errorSlot, Slot, type ErrorKind } from './counters.js';
import { directRead, directWrite } from './direct-write.js';
import type { HdrHistogram } from './hdr-histogram.js';
import { ResponseParseError, ResponseParser, type ResponseSink } from './response-parser.js';

/** DriverConfig is one thread's share of the run. */
export interface DriverConfig {
  /** The target's address (already resolved) and port. */
  readonly address: string;
  readonly port: number;
  /** The whole request, head and body, sent as is for every request. */
  readonly request: Uint8Array;
  readonly headRequests: boolean;
  readonly connections: number;
  /** Requests this thread may start (answered or failed); null: no bound. */
  readonly requests: number | null;
  readonly durationMs: number | null;
  /** This thread's constant rate in requests/s; null: closed loop. */
  readonly rate: number | null;
  readonly timeoutMs: number;
}

/** Shared read buffer size: reads are handled synchronously, one at a time, so one buffer serves every socket of the thread. */
const READ_BUFFER_BYTES = 64 * 1024;

/** LoadDriver drives the connections of one thread until its budget or deadline ends the run. */
export class LoadDriver {
  readonly config: DriverConfig;
  readonly counters: Float64Array;
  /** Latency in µs: the service time, plus in rate mode the time a request waited past its intended send time for its connection. */
  readonly latency: HdrHistogram;
  /** Service time from the actual send, in µs (rate mode only). */
  readonly service: HdrHistogram | null;
  readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  /** Milliseconds between two requests of one connection in rate mode. */
  readonly intervalMs: number;
  #issued = 0;
  #stopped = false;
  #live = 0;
  #connections: Connection[] = [];
  #timers: NodeJS.Timeout[] = [];
  #finished: (() => void) | null = null;

  constructor(config: DriverConfig, counters: Float64Array, latency: HdrHistogram, service: HdrHistogram | null) {
    this.config = config;
    this.counters = counters;
    this.latency = latency;
    this.service = service;
    this.intervalMs = config.rate === null ? 0 : (config.connections / config.rate) * 1000;
  }

  /** run opens every connection and resolves when the budget is spent or the deadline passed. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.#finished = resolve));
    const t0 = performance.now();
    const { connections, durationMs, timeoutMs } = this.config;
    this.#live = connections;
    for (let k = 0; k < connections; k++) {
      // In rate mode the connections' schedules are spread evenly over one interval.
      const conn = new Connection(this, t0 + (this.intervalMs * k) / connections);
      this.#connections.push(conn);
      conn.open();
    }
    if (durationMs !== null) this.#timers.push(setTimeout(() => this.stop(), durationMs));
    const sweepMs = Math.max(10, Math.min(250, timeoutMs / 4));
    this.#timers.push(setInterval(() => this.#sweep(), sweepMs));
    return done;
  }

  /** stop ends the run now: requests in flight are dropped and counted as abandoned. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const c of this.#connections) c.abandon();
    this.#end();
  }

  /** reserve takes one request from the budget; false when the run is over. */
  reserve(): boolean {
    if (this.#stopped) return false;
    const limit = this.config.requests;
    if (limit !== null && this.#issued >= limit) return false;
    this.#issued++;
    return true;
  }

  /** fail counts one failed request of `kind`. */
  fail(kind: ErrorKind): void {
    const i = errorSlot(kind);
    this.counters[i] = (this.counters[i] ?? 0) + 1;
  }

  /** retired is called once by each connection that will send no more. */
  retired(): void {
    if (--this.#live === 0) this.#end();
  }

  #sweep(): void {
    const now = performance.now();
    for (const c of this.#connections) c.checkTimeout(now);
  }

  #end(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    const finish = this.#finished;
    this.#finished = null;
    finish?.();
  }
}

/**
 * Connection is one keep-alive connection with at most one request in flight. A request is
 * "pending" from the moment it is taken from the budget until it is answered or fails; it is
 * "sent" once written. A pending request survives a reconnect (its send time may still be ahead).
 */
class Connection implements ResponseSink {
  readonly #driver: LoadDriver;
  #parser: ResponseParser;
  #socket: net.Socket | null = null;
  #connected = false;
  #openedAt = 0;
  #pending = false;
  #sent = false;
  #sentAt = 0;
  /** When the pending request should be sent (rate mode). */
  #intended = 0;
  /**
   * How long past its intended time the pending request waited for this connection (the previous
   * answer, or a connect): what coordinated omission would hide. 0 in a closed loop.
   */
  #blockedMs = 0;
  #nextIntended: number;
  #timer: NodeJS.Timeout | null = null;
  #closeAfter = false;
  #retired = false;

  constructor(driver: LoadDriver, firstIntended: number) {
    this.#driver = driver;
    this.#parser = new ResponseParser(this, { headRequests: driver.config.headRequests });
    this.#nextIntended = firstIntended;
  }

  open(): void {
    if (this.#retired) return;
    const d = this.#driver;
    this.#connected = false;
    this.#closeAfter = false;
    this.#parser = new ResponseParser(this, { headRequests: d.config.headRequests });
    this.#openedAt = performance.now();
    const socket = net.connect({
      host: d.config.address,
      port: d.config.port,
      noDelay: true,
      onread: {
        buffer: d.readBuffer,
        callback: (nread: number, buf: Uint8Array): boolean => {
          if (this.#socket === socket) this.#onRead(nread, buf as Buffer);
          return true;
        },
      },
    });
    this.#socket = socket;
    socket.on('connect', () => {
      if (this.#socket !== socket) return;
      directRead(socket, d.readBuffer, (nread, buf) => {
        if (this.#socket === socket) this.#onRead(nread, buf as Buffer);
      });
      this.#connected = true;
      d.counters[Slot.connections] = (d.counters[Slot.connections] ?? 0) + 1;
      if (this.#pending) this.#sendWhenDue();
      else this.#next();
    });
    socket.on('error', () => {
      // A socket error on an open connection is a reset (ECONNRESET, EPIPE); before it, a connect failure.
      if (this.#socket === socket) this.#drop(this.#connected ? 'reset' : 'connect');
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      // The target closed: a body that runs to the close ends here; a request it cut short failed.
      if (this.#parser.finish() || this.#sent) this.#failPending('reset');
      this.#reopen(0);
    });
  }

  /** onResponse counts one whole answer and sends the next request (or reconnects). */
  onResponse(status: number, keepAlive: boolean): void {
    const d = this.#driver;
    if (!this.#sent) throw new ResponseParseError(`a ${status} response came while no request was in flight`);
    const now = performance.now();
    d.latency.record((now - this.#sentAt + this.#blockedMs) * 1000);
    d.service?.record((now - this.#sentAt) * 1000);
    const c = d.counters;
    c[Slot.answered] = (c[Slot.answered] ?? 0) + 1;
    const s = Slot.statusBase + (status < 1000 ? status : 999);
    c[s] = (c[s] ?? 0) + 1;
    this.#pending = false;
    this.#sent = false;
    if (keepAlive) this.#next();
    else this.#closeAfter = true;
  }

  /** checkTimeout fails a connect or a request older than --timeout. */
  checkTimeout(now: number): void {
    if (this.#socket === null) return;
    const limit = this.#driver.config.timeoutMs;
    if (!this.#connected && now - this.#openedAt > limit) this.#drop('connect');
    else if (this.#sent && now - this.#sentAt > limit) this.#drop('timeout');
  }

  /** abandon closes the connection at the run's end; a request in flight is counted as abandoned. */
  abandon(): void {
    const c = this.#driver.counters;
    if (this.#sent) c[Slot.abandoned] = (c[Slot.abandoned] ?? 0) + 1;
    this.#pending = false;
    this.#sent = false;
    this.#retire();
  }

  #onRead(nread: number, buf: Buffer): void {
    const c = this.#driver.counters;
    c[Slot.bytesRead] = (c[Slot.bytesRead] ?? 0) + nread;
    try {
      this.#parser.execute(buf, 0, nread);
    } catch (err) {
      if (!(err instanceof ResponseParseError)) throw err;
      this.#drop('parse');
      return;
    }
    if (this.#closeAfter) {
      // The target said Connection: close (or HTTP/1.0): open a fresh connection.
      const socket = this.#socket;
      this.#socket = null;
      socket?.destroy();
      this.#reopen(0);
    }
  }

  /** #next takes the next request from the budget, or retires the connection when it is spent. */
  #next(): void {
    const d = this.#driver;
    if (!d.reserve()) return this.#retire();
    this.#pending = true;
    if (d.config.rate !== null) {
      this.#intended = this.#nextIntended;
      this.#nextIntended += d.intervalMs;
    }
    this.#sendWhenDue();
  }

  /**
   * #sendWhenDue sends the pending request now, or at its intended time in rate mode. A request
   * that is already late waited for the connection: that wait counts in its latency. One that
   * waits for its timer did not: the timer's own lateness (timers have millisecond resolution and
   * count from the event loop's cached clock) is the generator's, so its latency starts at the send.
   */
  #sendWhenDue(): void {
    const wait = this.#driver.config.rate === null ? 0 : this.#intended - performance.now();
    if (wait <= 0) {
      this.#blockedMs = -wait;
      return this.#send();
    }
    this.#blockedMs = 0;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#send();
    }, wait);
  }

  #send(): void {
    const socket = this.#socket;
    if (socket === null || !this.#connected) return;
    this.#sentAt = performance.now();
    this.#sent = true;
    directWrite(socket, this.#driver.config.request, this.#writeFailed);
  }

  /** #writeFailed hears of a failed write (one function per connection, not one per request). */
  readonly #writeFailed = (_errno: number, socket: net.Socket): void => {
    if (this.#socket === socket) this.#drop('reset');
  };

  /** #drop closes the connection, fails the pending request with `kind` and reconnects. */
  #drop(kind: ErrorKind): void {
    const d = this.#driver;
    const socket = this.#socket;
    this.#socket = null;
    socket?.destroy();
    if (!this.#pending) {
      if (kind === 'connect') {
        // No request was waiting yet: the failed connect costs one, so a dead target ends a --requests run.
        if (!d.reserve()) return this.#retire();
        this.#pending = true;
        if (d.config.rate !== null) this.#nextIntended += d.intervalMs;
      } else d.fail(kind); // bytes with no request in flight (an unasked-for response)
    }
    this.#failPending(kind);
    // A refused connect in rate mode retries at the next send time, so errors come at the rate.
    this.#reopen(kind === 'connect' && d.config.rate !== null ? this.#nextIntended - performance.now() : 0);
  }

  #failPending(kind: ErrorKind): void {
    if (!this.#pending) return;
    this.#pending = false;
    this.#sent = false;
    this.#driver.fail(kind);
  }

  /** #reopen connects again after `waitMs` (at least one timer turn, so a refusing target cannot recurse). */
  #reopen(waitMs: number): void {
    if (this.#retired) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#pending || this.#driver.reserve()) {
        if (!this.#pending && this.#driver.config.rate !== null) {
          // The request reserved here waits on the new connection for its send time.
          this.#intended = this.#nextIntended;
          this.#nextIntended += this.#driver.intervalMs;
        }
        this.#pending = true;
        this.open();
      } else this.#retire();
    }, Math.max(0, waitMs));
  }

  #retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const socket = this.#socket;
    this.#socket = null;
    socket?.destroy();
    this.#driver.retired();
  }
}
