/**
 * A raw HTTP/1.1 client over node:net for tests that need exact bytes on the wire: malformed
 * framing, keep-alive reuse, truncation and connection close. It parses just enough of a
 * response (Content-Length, chunked, close-delimited) to read one after another.
 */
import net from 'node:net';

/** RawResponse is one parsed response. */
export interface RawResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Header fields in order, names lower-cased, duplicates kept. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

/** header returns the first value of a field, or undefined. */
export function header(res: RawResponse, name: string): string | undefined {
  return res.headers.find(([k]) => k === name)?.[1];
}

/** headerAll returns every value of a field, in order. */
export function headerAll(res: RawResponse, name: string): string[] {
  return res.headers.filter(([k]) => k === name).map(([, v]) => v);
}

/** RawConnection is one client TCP connection. */
export class RawConnection {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #closed = false;
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  /** open connects to 127.0.0.1:port. */
  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** received is every byte received and not yet consumed by readResponse. */
  get received(): Buffer {
    return this.#buffer;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** request writes a request with the given head lines (Host etc.) and optional body. */
  request(method: string, target: string, headers: readonly string[], body?: string | Buffer): void {
    this.write(`${method} ${target} HTTP/1.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
    if (body !== undefined) this.write(body);
  }

  /** readResponse reads the next final response (1xx are skipped unless keepInformational). */
  async readResponse(options: { head?: boolean; keepInformational?: boolean } = {}): Promise<RawResponse> {
    for (;;) {
      const end = await this.#until(() => this.#buffer.indexOf('\r\n\r\n'));
      const headText = this.#buffer.subarray(0, end).toString('latin1');
      this.#buffer = this.#buffer.subarray(end + 4);
      const lines = headText.split('\r\n');
      const statusLine = lines[0] ?? '';
      const status = Number(statusLine.split(' ')[1]);
      const headers = lines.slice(1).map((l): [string, string] => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
      });
      if (status >= 100 && status < 200 && !options.keepInformational) continue;
      const res = { status, statusLine, headers, body: Buffer.alloc(0) };
      if (options.head || status === 204 || status === 304 || (status >= 100 && status < 200)) return res;
      const te = header(res, 'transfer-encoding');
      const cl = header(res, 'content-length');
      if (te !== undefined && te.toLowerCase().includes('chunked')) return { ...res, body: await this.#readChunked() };
      if (cl !== undefined) {
        const n = Number(cl);
        await this.#until(() => (this.#buffer.length >= n ? n : -1));
        const body = this.#buffer.subarray(0, n);
        this.#buffer = this.#buffer.subarray(n);
        return { ...res, body };
      }
      await this.closed;
      const body = this.#buffer;
      this.#buffer = Buffer.alloc(0);
      return { ...res, body };
    }
  }

  /** waitClose resolves when the server closed the connection. */
  waitClose(): Promise<void> {
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  async #readChunked(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = await this.#until(() => this.#buffer.indexOf('\r\n'));
      const size = parseInt(this.#buffer.subarray(0, eol).toString('latin1'), 16);
      this.#buffer = this.#buffer.subarray(eol + 2);
      if (size === 0) {
        await this.#until(() => this.#buffer.indexOf('\r\n'));
        this.#buffer = this.#buffer.subarray(this.#buffer.indexOf('\r\n') + 2);
        return Buffer.concat(parts);
      }
      await this.#until(() => (this.#buffer.length >= size + 2 ? size : -1));
      parts.push(this.#buffer.subarray(0, size));
      this.#buffer = this.#buffer.subarray(size + 2);
    }
  }

  /** #until waits until probe() returns >= 0; rejects if the connection closes first. */
  async #until(probe: () => number): Promise<number> {
    for (;;) {
      const at = probe();
      if (at >= 0) return at;
      if (this.#closed) throw new Error('connection closed before the response was complete');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * proxyV2 is a PROXY protocol v2 header (PROXY command, TCP over IPv4) for a connection from
 * `source`:`port` to 127.0.0.1:`destinationPort`, as a load balancer sends before the client's bytes.
 */
export function proxyV2(source: string, port = 40000, destinationPort = 80): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const body = Buffer.alloc(12);
  source.split('.').forEach((o, i) => body.writeUInt8(Number(o), i));
  [127, 0, 0, 1].forEach((o, i) => body.writeUInt8(o, 4 + i));
  body.writeUInt16BE(port, 8);
  body.writeUInt16BE(destinationPort, 10);
  return Buffer.concat([sig, Buffer.from([0x21, 0x11, 0x00, 12]), body]);
}
