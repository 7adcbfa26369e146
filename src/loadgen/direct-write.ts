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
  oncomplete: (this: WriteRequest, status: number) => void;
  /** Who hears of the write's failure (directWrite's onError), and the socket it was on. */
  onError: WriteErrorListener | null;
  socket: Socket | null;
}

interface TcpHandle {
  writeBuffer(req: WriteRequest, data: Uint8Array): number;
}

type WriteRequestClass = new () => WriteRequest;

interface StreamWrapBinding {
  readonly WriteWrap: WriteRequestClass;
  /** Shared state the handle sets on each write and read: whether a write went asynchronous, how many bytes a read brought. */
  readonly streamBaseState: Int32Array;
  readonly kLastWriteWasAsync: number;
  readonly kReadBytesOrError: number;
}

const binding = loadBinding();

function loadBinding(): StreamWrapBinding | null {
  try {
    const b = (process as unknown as { binding?: (name: string) => Partial<StreamWrapBinding> }).binding?.('stream_wrap');
    if (typeof b?.WriteWrap !== 'function' || !(b.streamBaseState instanceof Int32Array) || typeof b.kLastWriteWasAsync !== 'number' || typeof b.kReadBytesOrError !== 'number') return null;
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

/** writeDone is every write request's completion: no closure is made per write. */
function writeDone(this: WriteRequest, status: number): void {
  const onError = this.onError;
  const socket = this.socket;
  this.onError = null;
  this.socket = null;
  if (status < 0 && onError !== null && socket !== null) onError(status, socket);
}

/** WriteErrorListener hears of a failed write: a negative errno and the socket it was written on. */
export type WriteErrorListener = (errno: number, socket: Socket) => void;

/**
 * directWrite writes `data` on `socket`; `onError` gets a negative errno (EPIPE, ECONNRESET, or
 * ECANCELED for a write cut by a close) when the write fails, now or later. With socket.write
 * (the fallback) a failure arrives as the socket's 'error' event instead.
 */
export function directWrite(socket: Socket, data: Uint8Array, onError: WriteErrorListener): void {
  const handle = (socket as unknown as { _handle?: Partial<TcpHandle> | null })._handle;
  if (binding === null || typeof handle?.writeBuffer !== 'function') {
    socket.write(data);
    return;
  }
  const req = spare ?? new binding.WriteWrap();
  spare = null;
  req.handle = handle;
  req.oncomplete = writeDone;
  req.onError = onError;
  req.socket = socket;
  const err = handle.writeBuffer(req, data);
  if (err !== 0) onError(err, socket);
  else if (binding.streamBaseState[binding.kLastWriteWasAsync] === 0) spare = req;
}

/** ReadingHandle is the part of a TCP handle directRead replaces: the function the handle calls after each read. */
interface ReadingHandle {
  onread: (this: ReadingHandle, arrayBuffer: ArrayBuffer | undefined) => unknown;
}

/**
 * directRead makes the bytes of each read on a connected `socket` (opened with the `onread`
 * option, so reads land in `buffer`) go to `onData` straight from the TCP handle, without
 * net.Socket's read handler in between (its idle-timer refresh, its checks, the user-buffer
 * callback lookup): about a tenth of the generator's user-space time per request on loopback
 * (docs/load-testing.md, "How it works"). The end of the stream and errors still go through
 * net.Socket's handler, so 'close' and 'error' arrive as before. Returns false, changing nothing,
 * where the handle is missing or looks different: `onread`'s callback then keeps serving the reads.
 * The socket must have no idle timeout (`setTimeout`), whose timer this path does not refresh.
 */
export function directRead(socket: Socket, buffer: Uint8Array, onData: (nread: number, buf: Uint8Array) => void): boolean {
  const handle = (socket as unknown as { _handle?: Partial<ReadingHandle> | null })._handle;
  if (binding === null || handle === null || handle === undefined || typeof handle.onread !== 'function') return false;
  const state = binding.streamBaseState;
  const slot = binding.kReadBytesOrError;
  const streamRead = handle.onread;
  handle.onread = function onDirectRead(this: ReadingHandle, arrayBuffer: ArrayBuffer | undefined): unknown {
    const nread = state[slot] as number;
    if (nread > 0 && !socket.destroyed) {
      onData(nread, buffer);
      return undefined;
    }
    return streamRead.call(this, arrayBuffer);
  };
  return true;
}
