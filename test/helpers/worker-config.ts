/**
 * What the in-process worker tests (proxy, cache, worker main) share: a WorkerConfig for
 * loopback with short timeouts, and a pino logger that collects its JSON lines for assertions.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { WorkerConfig } from '../../src/shared/messages.js';

/** testWorkerConfig returns a loopback WorkerConfig (port 0, 2 s connect, 10 s response), changed by `overrides`. */
export function testWorkerConfig(overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  return {
    httpPort: 0,
    httpAddress: '127.0.0.1',
    keepAliveTimeoutMs: 75_000,
    clientHeaderTimeoutMs: 60_000,
    maxRequestTargetBytes: 8 * 1024,
    maxRequestFieldBytes: 8 * 1024,
    maxRequestFields: 98,
    upstreamConnectTimeoutMs: 2_000,
    upstreamResponseTimeoutMs: 10_000,
    upstreamIdleTimeoutMs: 10_000,
    upstreamKeepAliveTimeoutMs: 2_000,
    upstreamMaxConnections: 16,
    drainTimeoutMs: 5_000,
    websocketIdleTimeoutMs: 60_000,
    websocketMaxMessageBytes: 4 * 1024 * 1024,
    websocketMaxBufferedBytes: 1024 * 1024,
    logLevel: 'debug',
    logFormat: 'json',
    logFd: 1,
    https: null,
    accessLogEvery: 0,
    metrics: true,
    serverHeader: 'flusso-test',
    cacheMaxBytes: 64 * 1024 * 1024,
    cacheMaxObjectBytes: 1024 * 1024,
    cacheLockTimeoutMs: 5_000,
    ...overrides,
  };
}

/** LogLine is the part of a pino record the tests look at. */
export interface LogLine {
  level: number;
  code?: string;
  msg: string;
}

/** collectingLogger returns a debug-level pino logger that pushes every record it writes onto `lines`. */
export function collectingLogger(lines: LogLine[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  return pino({ level: 'debug' }, sink);
}
