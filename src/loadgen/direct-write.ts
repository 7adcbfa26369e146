/**
 * directWrite writes a request on a connected socket straight to its TCP handle, the call
 * net.Socket's own write ends in, without the Writable stream around it (its state machine and
 * the after-write tick it schedules for every write). On loopback that bookkeeping is about 1 µs
 * of a request's 10–12 µs of generator CPU, the difference between keeping up with wrk and not
 * (docs/load-testing.md, "How it works").
 *
 * The handle and its write request type are Node.js internals (`socket._handle`,
 * `process.binding('stream_wrap').WriteWrap`, the same pieces lib/internal/stream_base_commons.js
 * uses). Where they are missing or look different, every write goes through `socket.write`
 * instead, which behaves the same, only slower. Writes complete in order either way: libuv queues
 * a write the kernel cannot take at once, and keeps the request and its bytes alive until done.
 */
import type { Socket } from 'node:net';

interface WriteRequest {
  handle: unknown;
  oncomplete: (status: number) => void;
}

interface TcpHandle {
  writeBuffer(req: WriteRequest, data: Uint8Array): number;
}

type WriteRequestClass = new () => WriteRequest;

interface StreamWrapBinding {
  readonly WriteWrap: WriteRequestClass;
  /** Shared state the handle sets on each write; one slot says whether it went asynchronous. */
  readonly streamBaseState: Int32Array;
  readonly kLastWriteWasAsync: number;
}

const binding = loadBinding();

function loadBinding(): StreamWrapBinding | null {
  try {
    const b = (process as unknown as { binding?: (name: string) => Partial<StreamWrapBinding> }).binding?.('stream_wrap');
    if (typeof b?.WriteWrap !== 'function' || !(b.streamBaseState instanceof Int32Array) || typeof b.kLastWriteWasAsync !== 'number') return null;
    return b as StreamWrapBinding;
  } catch {
    return null;
  }
}

/** directWriteAvailable tells whether writes bypass the stream layer in this Node.js. */
export const directWriteAvailable = binding !== null;

/**
 * A write request the handle finished at once holds nothing (the native request is made only
 * for a write that has to wait), so the next write can use it again instead of a new one.
 */
let spare: WriteRequest | null = null;

/**
 * directWrite writes `data` on `socket`; `onError` gets a negative errno (EPIPE, ECONNRESET, or
 * ECANCELED for a write cut by a close) when the write fails, now or later. With socket.write
 * (the fallback) a failure arrives as the socket's 'error' event instead.
 */
export function directWrite(socket: Socket, data: Uint8Array, onError: (errno: number) => void): void {
  const handle = (socket as unknown as { _handle?: Partial<TcpHandle> | null })._handle;
  if (binding === null || typeof handle?.writeBuffer !== 'function') {
    socket.write(data);
    return;
  }
  const req = spare ?? new binding.WriteWrap();
  spare = null;
  req.handle = handle;
  req.oncomplete = (status: number): void => {
    if (status < 0) onError(status);
  };
  const err = handle.writeBuffer(req, data);
  if (err !== 0) onError(err);
  else if (binding.streamBaseState[binding.kLastWriteWasAsync] === 0) spare = req;
}
